"""What credit notes hear from payments: `refund.succeeded|failed` of a note's refund part (the refund's
idempotency key is the note's id) sets the note's `refund_status`. One event, one transaction (platform
consumer + inbox); the `pending` guard makes a redelivery change nothing."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.credit_notes import service
from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.payments import RefundEvent
from invora.events.envelope import EventEnvelope, topic_for

OUTCOMES = {"refund.succeeded": "succeeded", "refund.failed": "failed"}


async def on_refund(session: AsyncSession, event: EventEnvelope) -> None:
    refund = RefundEvent.model_validate(event.data).refund
    try:
        note_id = uuid.UUID(refund.idempotency_key)
    except ValueError:
        return  # a refund asked by hand, not by a credit note
    await service.apply_refund_outcome(session, event.organization_id, note_id, OUTCOMES[event.type],
                                       event.occurred_at)


REFUND_CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec(name="credit-note-refunds", topics=(topic_for("refund"),), handler=on_refund,
                 event_types=frozenset(OUTCOMES)),
)
