"""Request and response bodies of the invoices API (Lago's shapes; objects from the shared contract)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from invora.events.contracts.invoicing import BillingCheckFailed, Invoice
from invora.money import CURRENCIES
from invora.web.decimals import DecimalInput
from invora.web.inputs import Choice, StrictInt
from invora.web.pagination import PaginationMeta
from invora.web.timestamps import TimestampInput


class InvoiceResponse(BaseModel):
    invoice: Invoice


class InvoicesResponse(BaseModel):
    invoices: list[Invoice]
    meta: PaginationMeta


class InvoiceBatchResponse(BaseModel):
    """The invoices one batch call changed (at most 500; call again while it returns some)."""

    invoices: list[Invoice]


class MetadataInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(None, description="An existing entry to change; absent: a new entry.")
    key: str = Field(min_length=1, max_length=255)
    value: str = Field(max_length=255)


class InvoiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_status: Literal["pending", "succeeded", "failed"] | None = None
    metadata: list[MetadataInput] | None = Field(None, max_length=50)


class InvoiceUpdateBody(BaseModel):
    invoice: InvoiceUpdate


class InvoiceSettings(BaseModel):
    """Invora's read-only view of what invoicing applies of the organization's settings (catalog's
    `PUT /organizations`)."""

    document_numbering: Literal["per_customer", "per_organization"] = "per_organization"
    document_number_prefix: str = Field("INV", min_length=1, max_length=10, pattern=r"^[A-Za-z0-9_-]+$")
    invoice_grace_period: int = Field(0, ge=0, le=365)
    net_payment_term: int = Field(0, ge=0, le=365)
    finalize_zero_amount_invoice: bool = True
    timezone: str = "UTC"
    default_currency: str = "USD"


class InvoiceSettingsResponse(BaseModel):
    invoice_settings: InvoiceSettings


class BillingCheckViolation(BillingCheckFailed):
    resolved_at: str | None = None


class BillingCheckViolationsResponse(BaseModel):
    billing_check_violations: list[BillingCheckViolation]


class BillingCheckViolationResponse(BaseModel):
    billing_check_violation: BillingCheckViolation


class OneOffFeeInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    add_on_code: str = Field(min_length=1, max_length=255)
    invoice_display_name: str | None = Field(None, max_length=255)
    unit_amount_cents: StrictInt | None = Field(None, ge=0, le=10**13)
    units: Annotated[Decimal, DecimalInput(le=10**9, places=10)] | None = None
    description: str | None = Field(None, max_length=2_000)
    from_datetime: Annotated[datetime, TimestampInput(1970, 2999)] | None = None
    to_datetime: Annotated[datetime, TimestampInput(1970, 2999)] | None = None
    tax_codes: list[Annotated[str, Field(min_length=1, max_length=255)]] | None = Field(None, max_length=20)


class OneOffInvoiceInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    external_customer_id: str = Field(min_length=1, max_length=255)
    currency: Annotated[str, Choice(CURRENCIES, "currency_code_invalid")] | None = None
    fees: list[OneOffFeeInput] = Field(min_length=1, max_length=100)


class OneOffInvoiceBody(BaseModel):
    invoice: OneOffInvoiceInput


class PreviewCustomer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    external_id: str | None = Field(None, max_length=255)
    currency: Annotated[str, Choice(CURRENCIES, "currency_code_invalid")] | None = None
    timezone: str | None = Field(None, max_length=64)


class PreviewCoupon(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str = Field(min_length=1, max_length=255)
    name: str | None = Field(None, max_length=255)
    coupon_type: Literal["fixed_amount", "percentage"] | None = None
    amount_cents: StrictInt | None = Field(None, ge=0, le=10**13)
    amount_currency: Annotated[str, Choice(CURRENCIES, "currency_code_invalid")] | None = None
    percentage_rate: Annotated[Decimal, DecimalInput(le=100, places=5)] | None = None


class PreviewInput(BaseModel):
    """Lago's input for a new subscription (`plan_code`): its first invoice."""

    model_config = ConfigDict(extra="forbid")

    customer: PreviewCustomer
    plan_code: str = Field(min_length=1, max_length=255)
    billing_entity_code: str | None = Field(None, max_length=255, description="Accepted; one billing entity today.")
    subscription_at: Annotated[datetime, TimestampInput(1970, 2999)] | None = None
    billing_time: Literal["calendar", "anniversary"] = "calendar"
    coupons: list[PreviewCoupon] | None = Field(None, max_length=20)


class PreviewExistingCustomer(PreviewCustomer):
    external_id: str = Field(min_length=1, max_length=255)


class PreviewSubscriptions(BaseModel):
    """Lago's `subscriptions` of a preview: existing subscriptions of the customer. Alone: their next invoice. With
    `plan_code` (one subscription): the invoice its plan change would make. With `terminated_at` (one subscription;
    it wins over `plan_code`, as Lago's): its final invoice on termination then."""

    model_config = ConfigDict(extra="forbid")

    external_ids: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(min_length=1, max_length=20)
    plan_code: str | None = Field(
        None, min_length=1, max_length=255,
        description="The new plan (an upgrade when its yearly amount is at least the current one's: now; else a "
                    "downgrade at the period's end).")
    terminated_at: Annotated[datetime, TimestampInput(1970, 2999)] | None = Field(
        None, description="Not in the past, at most the current billing period's end.")


class PreviewSubscriptionsInput(BaseModel):
    """Lago's input for existing subscriptions (`subscriptions.external_ids`): their next invoice."""

    model_config = ConfigDict(extra="forbid")

    customer: PreviewExistingCustomer
    subscriptions: PreviewSubscriptions
    billing_entity_code: str | None = Field(None, max_length=255, description="Accepted; one billing entity today.")
    coupons: list[PreviewCoupon] | None = Field(None, max_length=20)
