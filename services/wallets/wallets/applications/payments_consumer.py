"""`payment.succeeded` → the credits applied to the invoices it paid are no longer pending.

The credit view's "pending" (seed 002: credits applied to unpaid invoices) counts applications whose
invoice has not been paid; a succeeded payment (payments' contract: `invoice_ids`) settles them, once
(`settled_at` is set only where it is still empty), in the event's transaction with its inbox row.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.payments import PaymentEvent
from invora.events.envelope import EventEnvelope, topic_for
from wallets.applications import repository


async def handle(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
    for envelope in envelopes:
        payment = PaymentEvent.model_validate(envelope.data).payment
        if payment.invoice_ids:
            await repository.settle(session, envelope.organization_id, payment.invoice_ids,
                                    payment.paid_at or envelope.occurred_at)


def payments_consumer() -> ConsumerSpec:
    return ConsumerSpec(name="payments", topics=(topic_for("payment"),), batch_handler=handle,
                        event_types=frozenset({"payment.succeeded"}))
