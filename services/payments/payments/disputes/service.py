"""Disputes: a cardholder disputes a charge at the provider (Stripe `charge.dispute.*` webhooks), and the bank
decides. Recorded on the payment (`dispute`), with one event per step that happened:

    (none) ──created──► open (needs_response, under_review, ...) ──closed──► won | lost

`payment.dispute_opened` the first time the payment is disputed, `payment.dispute_won` or
`payment.dispute_lost` when the bank decides; invoicing marks the invoice `payment_dispute_lost_at`
on `payment.dispute_lost`. `won` and `lost` are final: a late or out-of-order webhook (a `created`
after the `closed`) changes nothing and publishes nothing, and a redelivered webhook never reaches
here (the inbox).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invora.logging import get_logger
from payments.disputes import repository
from payments.payments import lifecycle
from payments.payments import repository as payments_repository
from payments.providers.base import DisputeInfo

log = get_logger(__name__)
FINAL = frozenset({"won", "lost"})


async def apply(session: AsyncSession, provider_id: uuid.UUID, provider_payment_id: str | None,
                dispute: DisputeInfo, now: datetime, *, provider_order_id: str | None = None) -> str:
    """`provider_order_id`: the provider's order the dispute names when it does not name our payment's id
    (Cashfree's disputes name the order that paid the link)."""
    payment = await payments_repository.lock_by_provider_payment_id(session, provider_id, provider_payment_id) \
        if provider_payment_id else None
    if payment is None and provider_order_id:
        payment = await payments_repository.lock_by_provider_order_id(session, provider_id, provider_order_id)
    if payment is None:
        log.info("dispute_for_unknown_payment", provider_payment_id=provider_payment_id,
                 provider_order_id=provider_order_id, dispute_id=dispute.provider_dispute_id)
        return "unknown_payment"
    if payment["dispute_status"] in FINAL:
        return "no_change"
    first = payment["provider_dispute_id"] is None
    status = dispute.outcome if dispute.outcome in FINAL else dispute.status
    if not first and status == payment["dispute_status"] and dispute.reason in (None, payment["dispute_reason"]):
        return "no_change"
    await repository.record(session, payment["id"], dispute_id=dispute.provider_dispute_id, status=status,
                            reason=dispute.reason, now=now)
    organization_id = payment["organization_id"]
    if first:
        await lifecycle.publish_payment(session, payment["id"], organization_id, "payment.dispute_opened")
    if dispute.outcome in FINAL:
        await lifecycle.publish_payment(session, payment["id"], organization_id, f"payment.dispute_{dispute.outcome}")
    return "applied"
