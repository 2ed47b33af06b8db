"""The `documents` consumer: a finalized invoice's and a new credit note's PDF, in the background.

Its own consumer group on `invora.invoice` (`invoice.finalized`) and `invora.credit_note`
(`credit_note.created`): rendering never holds up the consumers that bill (the finalization committed
before its event was published), and one event per transaction with the platform consumer's inbox, retries
and parking (a failing render is retried, then parked with back-off; the partition moves on). A resource
that has its document already (a download came first, a redelivery) is left as it is: nothing rendered,
nothing published.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.documents import service
from invoicing.invoices import repository as invoices
from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.invoicing import CreditNoteEvent, InvoiceEvent
from invora.events.envelope import EventEnvelope, topic_for


async def on_invoice_finalized(session: AsyncSession, event: EventEnvelope) -> None:
    invoice_id = InvoiceEvent.model_validate(event.data).invoice.lago_id
    invoice = await invoices.get_invoice(session, event.organization_id, invoice_id)
    if invoice is not None:
        await service.generate_invoice_document(session, invoice, datetime.now(UTC))


async def on_credit_note_created(session: AsyncSession, event: EventEnvelope) -> None:
    note_id: uuid.UUID = CreditNoteEvent.model_validate(event.data).credit_note.lago_id
    await service.generate_credit_note_document(session, event.organization_id, note_id, datetime.now(UTC))


HANDLERS = {"invoice.finalized": on_invoice_finalized, "credit_note.created": on_credit_note_created}


async def on_event(session: AsyncSession, event: EventEnvelope) -> None:
    await HANDLERS[event.type](session, event)


DOCUMENTS_CONSUMER = ConsumerSpec(name="documents", topics=(topic_for("invoice"), topic_for("credit_note")),
                                  handler=on_event, event_types=frozenset(HANDLERS))
