"""The credit notes consumer (one group on `invora.credit_note`): `credit_note.refund_requested` (internal,
from invoicing) records the credit note's refund in the event's transaction (with its inbox row), the refunder
sends it and `refund.*` events answer; `credit_note.created` with an offset part lowers what its invoice owes
(`invoices/service.apply_credit_note`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.invoicing import CREDIT_NOTE_REFUND_REQUESTED, CreditNoteRefundRequested
from invora.events.envelope import EventEnvelope, topic_for
from payments.invoices import service as invoices
from payments.refunds import service
from payments.runtime import PaymentsRuntime

CREDIT_NOTE_CREATED = "credit_note.created"


def credit_note_refunds_consumer(get_runtime: Callable[[], PaymentsRuntime]) -> ConsumerSpec:
    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        if envelope.type == CREDIT_NOTE_CREATED:
            await invoices.apply_credit_note(session, envelope)
            return
        request = CreditNoteRefundRequested.model_validate(envelope.data)
        if await service.request_for_credit_note(session, envelope.organization_id, request):
            get_runtime().wake_charger()  # too early finds nothing: the refunder comes back on its interval

    return ConsumerSpec(name="credit_note_refunds", topics=(topic_for("credit_note"),), handler=handle,
                        event_types=frozenset({CREDIT_NOTE_REFUND_REQUESTED, CREDIT_NOTE_CREATED}))
