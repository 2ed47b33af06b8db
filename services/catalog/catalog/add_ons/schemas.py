"""Add-ons in Lago's shapes (`{"add_on": {...}}`)."""

from __future__ import annotations

from pydantic import BaseModel

from catalog.common.inputs import AmountCents, Code, Currency, Description, InputModel, Name, OptionalName, TaxCodes
from invora.events.contracts.catalog import AddOn
from invora.web.pagination import PaginationMeta


class AddOnCreateInput(InputModel):
    name: Name
    code: Code
    amount_cents: AmountCents
    amount_currency: Currency
    invoice_display_name: OptionalName | None = None
    description: Description | None = None
    tax_codes: TaxCodes | None = None


class AddOnUpdateInput(InputModel):
    name: Name | None = None
    code: Code | None = None
    amount_cents: AmountCents | None = None
    amount_currency: Currency | None = None
    invoice_display_name: OptionalName | None = None
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
