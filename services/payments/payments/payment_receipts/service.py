"""Payment receipts: issued in the transaction that records a payment's success (`lifecycle.publish_payment` on
`payment.succeeded`, which happens once per payment), with `payment_receipt.created`.

Numbers are `RCPT-` and the organization's sequence on six digits (`RCPT-000042`), gapless (see models).
A payment that somehow succeeds twice (`failed → succeeded` is one move; a replay changes nothing) still
has one receipt: `issue` does nothing when the payment has one, and a unique index backs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.documents import links
from invora.events.contracts.payments import PaymentReceipt, PaymentReceiptEvent
from invora.ids import uuid7
from invora.outbox.writer import PendingEvent, add_events
from invora.web.pagination import PageParams, PaginationMeta
from payments.documents.repository import DOCUMENTS
from payments.errors import PaymentReceiptNotFound
from payments.events import pending
from payments.payment_receipts import repository
from payments.payments import repository as payments_repository
from payments.payments.render import render as render_payment

PREFIX = "RCPT"
# a receipt's document (`payments.documents`): its kind in the `documents` table and in its public link
RESOURCE, LINK = "payment_receipt", "payment_receipts"


def number_of(sequential_id: int) -> str:
    return f"{PREFIX}-{sequential_id:06d}"


def render(row: RowMapping) -> PaymentReceipt:
    return PaymentReceipt(lago_id=row["receipt_id"], number=row["receipt_number"], payment=render_payment(row),
                          created_at=row["receipt_created_at"])


async def issue(session: AsyncSession, organization_id: uuid.UUID, payment_id: uuid.UUID,
                payment: RowMapping | None = None) -> uuid.UUID | None:
    """The payment's receipt (in the caller's transaction) and its event; None when it has one already.

    It takes the organization's counter row, locked until the transaction ends (every success of the
    organization waits for it): call it LAST before the commit. `payment` is the payment as
    `payments.repository.by_id` reads it, when the caller has it (saves a read).
    """
    if payment is None:
        payment = await payments_repository.by_id(session, organization_id, payment_id)
    issued = await issue_many(session, [payment])
    return issued[0] if issued else None


async def issue_many(session: AsyncSession, payments: Sequence[RowMapping], *,
                     with_events: Sequence[PendingEvent] = ()) -> list[uuid.UUID]:
    """`issue` for several succeeded payments (rows as `payments.repository.by_id` reads them) in one
    transaction, the caller's `with_events` written with the receipts' events: the receipts' existence
    checked, then every event in two statements (`add_events`; a receipt's event is written with its number
    blank), then each organization's receipts numbered by one statement that also fills the numbers into
    their events, organizations in a fixed order. Call it LAST before the commit (the counters stay locked
    until it). Returns the receipt ids issued, in the payments' order."""
    unique = list({payment["id"]: payment for payment in payments}.values())
    have = await repository.existing_for(session, [payment["id"] for payment in unique]) if unique else set()
    due = [payment for payment in unique if payment["id"] not in have]
    created_at = datetime.now(UTC)
    receipt_ids = [uuid7() for _ in due]
    receipt_events = [
        pending(payment["organization_id"], "payment_receipt.created", receipt_id, PaymentReceiptEvent(
            payment_receipt=PaymentReceipt(lago_id=receipt_id, number="", payment=render_payment(payment),
                                           created_at=created_at)))
        for receipt_id, payment in zip(receipt_ids, due, strict=True)]
    envelopes = await add_events(session, [*with_events, *receipt_events])
    event_ids = [envelope.id for envelope in envelopes[len(with_events):]]
    by_organization: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, datetime]]] = {}
    for receipt_id, payment, event_id in zip(receipt_ids, due, event_ids, strict=True):
        by_organization.setdefault(payment["organization_id"], []).append(
            (receipt_id, payment["id"], event_id, created_at))
    for organization_id in sorted(by_organization, key=str):  # one order for every writer: no deadlock
        receipts = by_organization[organization_id]
        numbered = await repository.insert_numbered_many(session, organization_id, PREFIX, receipts)
        if numbered["receipts"] != len(receipts) or numbered["events"] != len(receipts):
            # the envelope's shape changed: never commit an unnumbered receipt event
            raise RuntimeError(f"payment_receipt.created: {numbered['events']} of {len(receipts)} numbered")
    return receipt_ids


async def with_file_urls(session: AsyncSession, rendered: list[PaymentReceipt]) -> list[PaymentReceipt]:
    """Lago's `file_url` on the receipts whose document exists (one query for the page)."""
    documented = await DOCUMENTS.with_documents(session, RESOURCE, [r.lago_id for r in rendered])
    for receipt in rendered:
        if receipt.lago_id in documented:
            receipt.file_url = links.file_url(LINK, receipt.lago_id)
    return rendered


async def get(session: AsyncSession, organization_id: uuid.UUID, receipt_id: uuid.UUID | None) -> PaymentReceipt:
    row = await repository.by_id(session, organization_id, receipt_id) if receipt_id else None
    if row is None:
        raise PaymentReceiptNotFound()
    return (await with_file_urls(session, [render(row)]))[0]


async def list_receipts(session: AsyncSession, organization_id: uuid.UUID, *, invoice_id: uuid.UUID | None,
                        customer_id: uuid.UUID | None, params: PageParams) -> tuple[list[PaymentReceipt],
                                                                                     PaginationMeta]:
    rows, meta = await repository.list_page(session, organization_id, invoice_id=invoice_id,
                                            customer_id=customer_id, params=params)
    return await with_file_urls(session, [render(row) for row in rows]), meta
