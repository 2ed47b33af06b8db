"""Taxes in Lago's shapes: `{"tax": {...}}` in and out, `{"taxes": [...], "meta": {...}}` for lists."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel

from catalog.common.inputs import Code, DecimalNumber, Description, InputModel, Name
from invora.events.contracts.catalog import Tax
from invora.web.pagination import PaginationMeta


def _percentage(value):
    if value > 100:
        raise ValueError("value_is_out_of_range")
    return value


TaxRate = Annotated[DecimalNumber, AfterValidator(_percentage)]


class TaxCreateInput(InputModel):
    name: Name
    code: Code
    rate: TaxRate
    description: Description | None = None
    applied_to_organization: bool | None = None


class TaxUpdateInput(InputModel):
    name: Name | None = None
    code: Code | None = None
    rate: TaxRate | None = None
    description: Description | None = None
    applied_to_organization: bool | None = None


class TaxCreateBody(BaseModel):
    tax: TaxCreateInput


class TaxUpdateBody(BaseModel):
    tax: TaxUpdateInput


class TaxResponse(BaseModel):
    tax: Tax


class TaxesResponse(BaseModel):
    taxes: list[Tax]
    meta: PaginationMeta
