"""Taxes in Lago's shapes: `{"tax": {...}}` in and out, `{"taxes": [...], "meta": {...}}` for lists."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, StrictBool

from invora.events.contracts.catalog import Tax
from invora.web.decimals import DecimalInput
from invora.web.fields import Code, Description, RequiredName
from invora.web.inputs import InputModel
from invora.web.pagination import PaginationMeta

TaxRate = Annotated[Decimal, DecimalInput(le=100)]  # a percentage


class TaxCreateInput(InputModel):
    name: RequiredName
    code: Code
    rate: TaxRate
    description: Description | None = None
    applied_to_organization: StrictBool | None = None


class TaxUpdateInput(InputModel):
    name: RequiredName | None = None
    code: Code | None = None
    rate: TaxRate | None = None
    description: Description | None = None
    applied_to_organization: StrictBool | None = None


class TaxCreateBody(BaseModel):
    tax: TaxCreateInput


class TaxUpdateBody(BaseModel):
    tax: TaxUpdateInput


class TaxResponse(BaseModel):
    tax: Tax


class TaxesResponse(BaseModel):
    taxes: list[Tax]
    meta: PaginationMeta
