"""Payment receipts: issued in the transaction that records a payment's success (`lifecycle.publish_payment` on
`payment.succeeded`, which happens once per payment), with `payment_receipt.created`.

Numbers are `RCPT-` and the organization's sequence on six digits (`RCPT-000042`), gapless (see models).
A payment that somehow succeeds twice (`failed → succeeded` is one move; a replay changes nothing) still
has one receipt: `issue` does nothing when the payment has one, and a unique index backs it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.payments import PaymentReceipt, PaymentReceiptEvent
from invora.ids import uuid7
from invora.web.pagination import PageParams, PaginationMeta
from payments.errors import PaymentReceiptNotFound
from payments.events import publish
from payments.payment_receipts import repository
from payments.payments import repository as payments_repository
from payments.payments.render import render as render_payment

PREFIX = "RCPT"


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
    if await repository.exists_for(session, payment_id):
        return None
    if payment is None:
        payment = await payments_repository.by_id(session, organization_id, payment_id)
    receipt_id, created_at = uuid7(), datetime.now(UTC)
    # the event is written first with the number blank; the numbering statement fills it in, in this
    # transaction (nothing reads the outbox row before the commit)
    event = await publish(session, organization_id, "payment_receipt.created", receipt_id, PaymentReceiptEvent(
        payment_receipt=PaymentReceipt(lago_id=receipt_id, number="", payment=render_payment(payment),
                                       created_at=created_at)))
    numbered = await repository.insert_numbered(session, {"id": receipt_id, "org": organization_id,
                                                          "payment_id": payment_id, "prefix": PREFIX,
                                                          "created_at": created_at, "event_id": event.id})
    if numbered["events"] != 1:  # the envelope's shape changed: never commit an unnumbered receipt event
        raise RuntimeError(f"payment_receipt.created {event.id} not numbered")
    return receipt_id


async def get(session: AsyncSession, organization_id: uuid.UUID, receipt_id: uuid.UUID | None) -> PaymentReceipt:
    row = await repository.by_id(session, organization_id, receipt_id) if receipt_id else None
    if row is None:
        raise PaymentReceiptNotFound()
    return render(row)


async def list_receipts(session: AsyncSession, organization_id: uuid.UUID, *, invoice_id: uuid.UUID | None,
                        customer_id: uuid.UUID | None, params: PageParams) -> tuple[list[PaymentReceipt],
                                                                                     PaginationMeta]:
    rows, meta = await repository.list_page(session, organization_id, invoice_id=invoice_id,
                                            customer_id=customer_id, params=params)
    return [render(row) for row in rows], meta
