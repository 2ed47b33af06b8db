"""Events the invoicing service publishes, and the objects they carry (Lago's `invoice` and `fee` shapes).

- `invoice.drafted`: a draft was created (the customer's grace period runs);
- `invoice.created`: the invoice is final (Lago sends it when an invoice is finalized);
- `invoice.one_off_created`: a one-off invoice (add-on fees) was created, finalized at once;
- `invoice.finalized`: the number is assigned and payment is due: what payments charge on;
- `invoice.voided`, `invoice.payment_status_updated`, `invoice.payment_overdue` (once per invoice),
  `invoice.generation_failed` (the invoice is `failed`; `POST /invoices/{id}/retry`),
  `invoice.generated` (its PDF is ready: `file_url` is set; once per invoice):
  all `InvoiceEvent` (`{"invoice": Invoice}`);
- `invoice.billing_check_failed`: `BillingCheckFailed` (a period would be billed twice or one was
  missed: the customer's invoices wait in draft until an admin resolves it).

The prepaid-credits saga (docs/wallets.md) starts here:

- `invoice.prepaid_credits_requested`: `PrepaidCreditsRequested`: the invoice (still `pending`)
  asks wallets to apply the customer's prepaid credits to its fees. Invoicing may send it again
  (a retry after a timeout, a redelivery): wallets answers every copy with the same
  `credits.applied`, because the invoice id is the idempotency key of the application.
- `invoice.prepaid_credits_release_requested`: `PrepaidCreditsReleaseRequested`: the invoice was
  voided (or abandoned before finalizing): wallets gives back what it applied, once, and answers
  `credits.released`. A release that arrives before its request (or for an invoice wallets never
  saw) is recorded, and a later request for that invoice applies nothing. Wallets' answers are in
  `invora.events.contracts.wallets`.

`fee.created`: `FeeEvent` (`{"fee": Fee}`, Lago's webhook): a fee paid in advance that no invoice carries
(a charge with `invoiceable: false`); topic `invora.fee`, keyed by the fee.

`credit_note.created` (a credit note was issued on a finalized invoice), `credit_note.generated` (its PDF is
ready: `file_url` is set; once per note), `credit_note.refund_failure` (its refund
failed at the provider): `CreditNoteEvent` (`{"credit_note": CreditNote}`, Lago's webhooks); topic
`invora.credit_note`, keyed by the credit note.
`credit_note.refund_requested` (internal, invoicing → payments): `CreditNoteRefundRequested`, same topic
and key: refund the note's refund part of one payment; payments answers with `refund.*`.

Topic `invora.invoice`, message key the invoice's `lago_id` (the subscription's id for a check failure).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from invora.events.contracts.subscriptions import Customer

JsonNumber = Annotated[Decimal, PlainSerializer(lambda value: float(value), return_type=float, when_used="json")]
DecimalText = Annotated[Decimal, PlainSerializer(lambda value: format(value.normalize(), "f") if value else "0",
                                                 return_type=str, when_used="json")]

PREPAID_CREDITS_REQUESTED = "invoice.prepaid_credits_requested"
PREPAID_CREDITS_RELEASE_REQUESTED = "invoice.prepaid_credits_release_requested"
CREDIT_NOTE_REFUND_REQUESTED = "credit_note.refund_requested"

FeeType = Literal["subscription", "charge", "commitment", "fixed_charge", "add_on", "credit"]

InvoiceStatus = Literal["draft", "finalized", "voided", "failed", "pending", "closed"]
PaymentStatus = Literal["pending", "succeeded", "failed"]
InvoiceType = Literal["subscription", "add_on", "credit", "one_off", "progressive_billing", "advance_charges"]


class _Object(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AppliedTax(_Object):
    lago_id: uuid.UUID
    lago_tax_id: uuid.UUID | None = None
    tax_name: str
    tax_code: str
    tax_rate: JsonNumber
    tax_description: str | None = None
    amount_cents: int
    amount_currency: str
    created_at: datetime


class FeeAppliedTax(AppliedTax):
    lago_fee_id: uuid.UUID


class InvoiceAppliedTax(AppliedTax):
    lago_invoice_id: uuid.UUID
    fees_amount_cents: int


class FeeItem(_Object):
    type: Literal["subscription", "charge", "fixed_charge", "add_on", "commitment", "credit"]
    code: str
    name: str
    invoice_display_name: str | None = None
    filter_invoice_display_name: str | None = None
    filters: dict[str, Any] | None = None
    lago_item_id: uuid.UUID | None = None
    item_type: str
    grouped_by: dict[str, Any] = Field(default_factory=dict)


class Fee(_Object):
    lago_id: uuid.UUID
    lago_charge_id: uuid.UUID | None = None
    lago_charge_filter_id: uuid.UUID | None = None
    lago_fixed_charge_id: uuid.UUID | None = None
    lago_invoice_id: uuid.UUID | None = None
    lago_true_up_fee_id: uuid.UUID | None = None
    lago_true_up_parent_fee_id: uuid.UUID | None = None
    lago_subscription_id: uuid.UUID | None = None
    lago_customer_id: uuid.UUID | None = None
    external_customer_id: str | None = None
    external_subscription_id: str | None = None
    amount_cents: int
    precise_amount: DecimalText = Field(description="Exact amount in major units.")
    precise_total_amount: DecimalText
    amount_currency: str
    taxes_amount_cents: int
    taxes_precise_amount: DecimalText
    taxes_rate: JsonNumber
    units: DecimalText
    precise_unit_amount: DecimalText
    total_aggregated_units: DecimalText
    total_amount_cents: int
    total_amount_currency: str
    events_count: int | None = None
    pay_in_advance: bool
    invoiceable: bool
    from_date: datetime | None = None
    to_date: datetime | None = None
    payment_status: Literal["pending", "succeeded", "failed", "refunded"]
    created_at: datetime
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None
    refunded_at: datetime | None = None
    event_transaction_id: str | None = None
    description: str | None = None
    precise_coupons_amount_cents: DecimalText
    sub_total_excluding_taxes_amount_cents: int
    sub_total_excluding_taxes_precise_amount_cents: DecimalText
    amount_details: dict[str, Any] = Field(default_factory=dict)
    self_billed: bool = False
    item: FeeItem
    applied_taxes: list[FeeAppliedTax] = Field(default_factory=list)


class InvoiceMetadata(_Object):
    lago_id: uuid.UUID
    key: str
    value: str
    created_at: datetime


class Credit(_Object):
    """A coupon's discount on the invoice (Lago's `credits` entry with an `item` of type `coupon`)."""

    lago_id: uuid.UUID
    amount_cents: int
    amount_currency: str
    before_taxes: bool = True
    item: dict[str, Any]
    invoice: dict[str, Any]


class Invoice(_Object):
    lago_id: uuid.UUID
    billing_entity_code: str | None = None
    sequential_id: int | None = None
    number: str = Field(description="Empty until the invoice is finalized (the number is given then).")
    issuing_date: date
    payment_dispute_lost_at: datetime | None = None
    payment_due_date: date
    payment_overdue: bool
    net_payment_term: int
    invoice_type: InvoiceType
    status: InvoiceStatus
    payment_status: PaymentStatus
    currency: str
    fees_amount_cents: int
    coupons_amount_cents: int
    credit_notes_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    sub_total_including_taxes_amount_cents: int
    prepaid_credit_amount_cents: int
    progressive_billing_credit_amount_cents: int
    total_amount_cents: int
    total_paid_amount_cents: int = Field(0, description="What this invoice's own succeeded payments paid.")
    total_due_amount_cents: int = Field(0, description="What is still owed: total − paid − credit notes' "
                                                       "offsets (0 once voided or paid).")
    version_number: int
    self_billed: bool = False
    file_url: str | None = None
    created_at: datetime
    updated_at: datetime
    finalized_at: datetime | None = None
    voided_at: datetime | None = None
    lago_subscription_id: uuid.UUID | None = None
    external_subscription_id: str | None = None
    billing_period_start: datetime | None = None
    billing_period_end: datetime | None = None
    customer: Customer | None = None
    metadata: list[InvoiceMetadata] = Field(default_factory=list)
    applied_taxes: list[InvoiceAppliedTax] = Field(default_factory=list)
    credits: list[Credit] = Field(default_factory=list)
    fees: list[Fee] = Field(default_factory=list)
    error_details: list[dict[str, Any]] = Field(default_factory=list)


class InvoiceEvent(_Object):
    invoice: Invoice


class ProviderError(_Object):
    message: str | None = None
    error_code: str | None = None


class InvoicePaymentError(_Object):
    """Lago's `InvoicePaymentFailureObject`: a charge of the invoice failed at the customer's provider."""

    lago_invoice_id: uuid.UUID
    lago_customer_id: uuid.UUID
    external_customer_id: str
    provider_customer_id: str | None = None
    payment_provider: str | None = Field(None, description="The provider's type (`stripe`, `adyen`, ...).")
    payment_provider_code: str | None = None
    provider_error: ProviderError


class InvoicePaymentFailure(_Object):
    """`invoice.payment_failure` (Lago's webhook; object `payment_provider_invoice_payment_error`): one per failed
    provider charge of a finalized invoice not already paid."""

    payment_provider_invoice_payment_error: InvoicePaymentError


class FeeEvent(_Object):
    fee: Fee


class BillingCheckFailed(_Object):
    lago_violation_id: uuid.UUID
    lago_customer_id: uuid.UUID
    lago_subscription_id: uuid.UUID
    kind: Literal["overlap", "gap"]
    period_start: datetime
    period_end: datetime
    detail: dict[str, Any] = Field(default_factory=dict)



class PrepaidCreditsLine(_Object):
    """One fee the credits may pay: its type, its metric (charges) and the amount still due on it.

    `amount_cents` is what credits may cover for this fee, taxes included, after coupons and credit
    notes (the invoice's own order). A wallet restricted by `applies_to` pays only the lines it
    applies to.
    """

    lago_fee_id: uuid.UUID | None = None
    fee_type: FeeType
    billable_metric_code: str | None = None
    amount_cents: int = Field(ge=0, le=2**62)


class PrepaidCreditsRequested(_Object):
    """`invoice.prepaid_credits_requested`: apply up to the lines' amounts from the customer's wallets."""

    lago_invoice_id: uuid.UUID
    invoice_number: str | None = Field(
        None, max_length=255, description="Shown in the balance history (\"Applied credit balance to invoice F-…\").")
    lago_customer_id: uuid.UUID | None = None
    external_customer_id: str = Field(min_length=1, max_length=255)
    currency: str = Field(min_length=3, max_length=3)
    lines: list[PrepaidCreditsLine] = Field(max_length=10_000)
    requested_at: datetime | None = None


class PrepaidCreditsReleaseRequested(_Object):
    """`invoice.prepaid_credits_release_requested`: give back what was applied to this invoice (void)."""

    lago_invoice_id: uuid.UUID
    external_customer_id: str | None = Field(None, max_length=255)
    reason: Literal["invoice_voided", "invoice_abandoned"] = "invoice_voided"


class CreditNoteAppliedTax(_Object):
    lago_id: uuid.UUID | None = Field(None, description="The applied tax's id (derived from the credit note and tax).")
    lago_credit_note_id: uuid.UUID | None = None
    lago_tax_id: uuid.UUID | None = None
    tax_name: str
    tax_code: str
    tax_rate: JsonNumber
    tax_description: str | None = None
    base_amount_cents: int
    amount_cents: int
    amount_currency: str
    created_at: datetime | None = None


class CreditNoteItem(_Object):
    lago_id: uuid.UUID
    amount_cents: int
    amount_currency: str
    fee: Fee


class CreditNote(_Object):
    """Lago's `CreditNoteObject`."""

    lago_id: uuid.UUID
    billing_entity_code: str | None = None
    sequential_id: int
    number: str
    lago_invoice_id: uuid.UUID
    invoice_number: str
    issuing_date: date
    credit_status: Literal["available", "consumed", "voided"] | None = None
    refund_status: Literal["pending", "succeeded", "failed"] | None = None
    reason: Literal["duplicated_charge", "product_unsatisfactory", "order_change", "order_cancellation",
                    "fraudulent_charge", "other"]
    description: str | None = None
    currency: str
    total_amount_cents: int
    taxes_amount_cents: int
    taxes_rate: JsonNumber
    sub_total_excluding_taxes_amount_cents: int
    balance_amount_cents: int
    credit_amount_cents: int
    refund_amount_cents: int
    offset_amount_cents: int
    coupons_adjustment_amount_cents: int
    created_at: datetime
    updated_at: datetime
    file_url: str | None = None
    self_billed: bool = False
    items: list[CreditNoteItem] = Field(default_factory=list)
    applied_taxes: list[CreditNoteAppliedTax] = Field(default_factory=list)
    customer: Customer | None = None
    metadata: dict[str, str | None] | None = None
    error_details: list[dict[str, Any]] | None = None


class CreditNoteEvent(_Object):
    credit_note: CreditNote


class CreditNoteRefundRequested(_Object):
    """`credit_note.refund_requested` (internal, invoicing → payments): refund one part of a note's refund from
    one payment of its invoice (a note refunding more than one payment holds sends one per payment). Payments
    records it as a refund whose idempotency key is `idempotency_key` (the part's id; the credit note's id when
    absent, as before parts existed), so a redelivery answers the first refund, and reports by
    `refund.created|succeeded|failed`."""

    lago_credit_note_id: uuid.UUID
    lago_invoice_id: uuid.UUID
    lago_payment_id: uuid.UUID
    amount_cents: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    reason: str = Field(min_length=1, max_length=1000)
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)


CREDIT_NOTE_EVENT_TYPES = ("created", "generated", "refund_failure")

INVOICE_EVENT_TYPES = ("drafted", "created", "one_off_created", "paid_credit_added", "finalized", "voided",
                       "payment_status_updated", "payment_overdue", "payment_dispute_lost", "generation_failed",
                       "generated")

EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    **{f"invoice.{verb}": InvoiceEvent for verb in INVOICE_EVENT_TYPES},
    "invoice.billing_check_failed": BillingCheckFailed,
    "invoice.payment_failure": InvoicePaymentFailure,
    "fee.created": FeeEvent,
    **{f"credit_note.{verb}": CreditNoteEvent for verb in CREDIT_NOTE_EVENT_TYPES},
    PREPAID_CREDITS_REQUESTED: PrepaidCreditsRequested,
    PREPAID_CREDITS_RELEASE_REQUESTED: PrepaidCreditsReleaseRequested,
    CREDIT_NOTE_REFUND_REQUESTED: CreditNoteRefundRequested,
}


def parse_event_data(event_type: str, data: dict[str, Any]) -> BaseModel:
    """The typed payload of an invoicing event (KeyError for a type this service does not publish)."""
    return EVENT_PAYLOADS[event_type].model_validate(data)
