"""Billing entities in Lago's shapes: `{"billing_entity": {...}}` in and out, `{"billing_entities": [...], "meta"}`
for the list.

Beyond Lago: `tax_codes` is accepted on create too. Lago's `logo` (a data URL) is not stored: the
entity's `logo_url` is given as a URL instead.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StringConstraints

from catalog.organizations.schemas import (
    Days,
    DocumentNumberPrefix,
    LegalDetailsInput,
    Locale,
    Url,
)
from invora.events.contracts.catalog import BillingEntity
from invora.web.fields import Code, CurrencyChoice, InvoiceFooter, RequiredName, TaxCodes
from invora.web.inputs import InputModel, Timezone
from invora.web.pagination import PaginationMeta

EntityNumbering = Literal["per_customer", "per_billing_entity"]
EmailSettings = Annotated[list[Literal["invoice.finalized", "credit_note.created", "payment_receipt.created"]],
                          Field(max_length=3)]
Phone = Annotated[str, StringConstraints(max_length=50)]


class EntityBillingConfigurationInput(InputModel):
    invoice_footer: InvoiceFooter | None = None
    document_locale: Locale | None = None
    invoice_grace_period: Days | None = None
    subscription_invoice_issuing_date_anchor: Literal["current_period_end", "next_period_start"] | None = None
    subscription_invoice_issuing_date_adjustment: Literal["align_with_finalization_date", "keep_anchor"] | None = None


class BillingEntityFields(LegalDetailsInput):
    default_currency: CurrencyChoice | None = None
    document_numbering: EntityNumbering | None = None
    document_number_prefix: DocumentNumberPrefix | None = None
    finalize_zero_amount_invoice: StrictBool | None = None
    billing_configuration: EntityBillingConfigurationInput | None = None
    net_payment_term: Days | None = None
    timezone: Timezone | None = None
    email_settings: EmailSettings | None = None
    eu_tax_management: StrictBool | None = None
    logo_url: Url | None = None
    phone: Phone | None = None
    tax_codes: TaxCodes | None = None
    invoice_custom_section_codes: Annotated[list[Code], Field(max_length=0)] | None = Field(
        None, description="Invoice custom sections are not built: only an empty list is accepted.")


class BillingEntityCreateInput(BillingEntityFields):
    code: Code
    name: RequiredName


class BillingEntityUpdateInput(BillingEntityFields):
    name: RequiredName | None = None


class BillingEntityCreateBody(BaseModel):
    billing_entity: BillingEntityCreateInput


class BillingEntityUpdateBody(BaseModel):
    billing_entity: BillingEntityUpdateInput


class BillingEntityResponse(BaseModel):
    billing_entity: BillingEntity


class BillingEntitiesResponse(BaseModel):
    billing_entities: list[BillingEntity]
    meta: PaginationMeta
