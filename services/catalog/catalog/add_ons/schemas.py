"""Add-ons in Lago's shapes (`{"add_on": {...}}`)."""

from __future__ import annotations

from pydantic import BaseModel

from invora.events.contracts.catalog import AddOn
from invora.web.fields import AmountCents, Code, CurrencyChoice, Description, Name, RequiredName, TaxCodes
from invora.web.inputs import InputModel
from invora.web.pagination import PaginationMeta


class AddOnCreateInput(InputModel):
    name: RequiredName
    code: Code
    amount_cents: AmountCents
    amount_currency: CurrencyChoice
    invoice_display_name: Name | None = None
    description: Description | None = None
    tax_codes: TaxCodes | None = None


class AddOnUpdateInput(InputModel):
    name: RequiredName | None = None
    code: Code | None = None
    amount_cents: AmountCents | None = None
    amount_currency: CurrencyChoice | None = None
    invoice_display_name: Name | None = None
    description: Description | None = None
    tax_codes: TaxCodes | None = None


class AddOnCreateBody(BaseModel):
    add_on: AddOnCreateInput


class AddOnUpdateBody(BaseModel):
    add_on: AddOnUpdateInput


class AddOnResponse(BaseModel):
    add_on: AddOn


class AddOnsResponse(BaseModel):
    add_ons: list[AddOn]
    meta: PaginationMeta
