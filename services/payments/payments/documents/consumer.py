"""The `receipt-documents` consumer: a new payment receipt's PDF, in the background (`service.py`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.payments import PaymentReceiptEvent
from invora.events.envelope import EventEnvelope, topic_for
from payments.documents import service

EVENT_TYPE = "payment_receipt.created"


async def on_receipt_created(session: AsyncSession, event: EventEnvelope) -> None:
    receipt_id = PaymentReceiptEvent.model_validate(event.data).payment_receipt.lago_id
    await service.generate_receipt_document(session, event.organization_id, receipt_id, datetime.now(UTC))


RECEIPT_DOCUMENTS_CONSUMER = ConsumerSpec(name="receipt-documents", topics=(topic_for("payment_receipt"),),
                                          handler=on_receipt_created, event_types=frozenset({EVENT_TYPE}))
