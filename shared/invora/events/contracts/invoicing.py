"""Events the invoicing service publishes that other services act on.

The prepaid-credits saga (docs/wallets.md) starts here:

- `invoice.prepaid_credits_requested`: `PrepaidCreditsRequested`: the invoice (still `pending`)
  asks wallets to apply the customer's prepaid credits to its fees. Invoicing may send it again
  (a retry after a timeout, a redelivery): wallets answers every copy with the same
  `credits.applied`, because the invoice id is the idempotency key of the application.
- `invoice.prepaid_credits_release_requested`: `PrepaidCreditsReleaseRequested`: the invoice was
  voided (or abandoned before finalizing): wallets gives back what it applied, once, and answers
  `credits.released`. A release that arrives before its request (or for an invoice wallets never
  saw) is recorded, and a later request for that invoice applies nothing.

Topic `invora.invoice`, message key = the invoice's `lago_id`, so one invoice's request and
release stay in order. Wallets' answers are in `invora.events.contracts.wallets`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PREPAID_CREDITS_REQUESTED = "invoice.prepaid_credits_requested"
PREPAID_CREDITS_RELEASE_REQUESTED = "invoice.prepaid_credits_release_requested"

FeeType = Literal["subscription", "charge", "commitment", "fixed_charge", "add_on", "credit"]


class _Object(BaseModel):
    model_config = ConfigDict(extra="ignore")


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


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    PREPAID_CREDITS_REQUESTED: PrepaidCreditsRequested,
    PREPAID_CREDITS_RELEASE_REQUESTED: PrepaidCreditsReleaseRequested,
}
