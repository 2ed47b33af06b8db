"""Payment receipts' documents (PDF): rendered once per receipt, kept, served by a public link.

When: in the background after `payment_receipt.created` (consumer `receipt-documents`, when
`DOCUMENTS_GENERATE` is on: its own group, one event per transaction, retried and parked like any event; the
payment's success committed before), then `payment_receipt.generated` (lago-api's webhook) with `file_url`.
Lago has no download route for receipts (their `file_url` appears once rendered), and neither has Invora.
The insert is `ON CONFLICT DO NOTHING` on the receipt's id: a redelivery stores and publishes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invora.customer_projection import repository as customers
from invora.documents.web import open_link
from invora.events.contracts.payments import PaymentReceiptEvent
from payments.documents.receipt_pdf import customer_party, render_receipt_pdf
from payments.documents.repository import DOCUMENTS
from payments.events import publish
from payments.payment_receipts import repository as receipts
from payments.payment_receipts.service import LINK, RESOURCE, render, with_file_urls


async def generate_receipt_document(session: AsyncSession, organization_id: uuid.UUID, receipt_id: uuid.UUID,
                                    now: datetime) -> bool:
    """The receipt's document, unless it has one; True when this call stored it (and published
    `payment_receipt.generated`)."""
    if await DOCUMENTS.exists(session, RESOURCE, receipt_id):
        return False
    row = await receipts.by_id(session, organization_id, receipt_id)
    if row is None:
        return False
    receipt = render(row)
    customer = await customers.by_id(session, organization_id, receipt.payment.lago_customer_id)
    content = await asyncio.to_thread(render_receipt_pdf, receipt, customer_party(customer))
    if not await DOCUMENTS.insert_once(session, organization_id, RESOURCE, receipt_id, content,
                                       f"{receipt.number}.pdf", now):
        return False
    await with_file_urls(session, [receipt])
    await publish(session, organization_id, "payment_receipt.generated", receipt_id,
                  PaymentReceiptEvent(payment_receipt=receipt))
    return True


async def file(session: AsyncSession, token: str) -> tuple[bytes, str]:
    return await open_link(session, DOCUMENTS, LINK, RESOURCE, token)
