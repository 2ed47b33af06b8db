"""What credit notes hear from payments: `refund.succeeded|failed` of one part of a note's refund (the refund's
idempotency key is the part's id; a note refunded before parts existed has one part whose id is the note's)
sets the part's status, and the note's `refund_status` follows its parts. One event, one transaction
(platform consumer + inbox); the `pending` guard makes a redelivery change nothing."""

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
        part_id = uuid.UUID(refund.idempotency_key)
    except ValueError:
        return  # a refund asked by hand, not by a credit note
    await service.apply_refund_outcome(session, event.organization_id, part_id, OUTCOMES[event.type],
                                       event.occurred_at)


REFUND_CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec(name="credit-note-refunds", topics=(topic_for("refund"),), handler=on_refund,
                 event_types=frozenset(OUTCOMES)),
)
