"""SQL of credit notes: the invoice's fees and what earlier notes took from them, the notes, their items."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.credit_notes.models import CreditNote, CreditNoteItem, CreditNoteRefund, InvoicePayment
from invoicing.credits.models import CustomerCredit
from invoicing.invoices.models import Fee


async def fees(session: AsyncSession, invoice_id: uuid.UUID, fee_ids: list[uuid.UUID] | None = None) -> list[Fee]:
    statement = select(Fee).where(Fee.invoice_id == invoice_id)
    if fee_ids is not None:
        statement = statement.where(Fee.id.in_(fee_ids))
    return list((await session.execute(statement.order_by(Fee.created_at, Fee.id))).scalars())


async def credited_by_fee(session: AsyncSession, invoice_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """What the invoice's credit notes (voided ones too, as Lago) took from each fee."""
    rows = (await session.execute(select(CreditNoteItem.fee_id, func.sum(CreditNoteItem.amount_cents)).join(
        CreditNote, CreditNote.id == CreditNoteItem.credit_note_id).where(CreditNote.invoice_id == invoice_id)
        .group_by(CreditNoteItem.fee_id))).all()
    return {fee_id: int(total) for fee_id, total in rows}


async def credited_total(session: AsyncSession, invoice_id: uuid.UUID) -> int:
    return int((await session.execute(select(func.coalesce(func.sum(CreditNote.total_amount_cents), 0)).where(
        CreditNote.invoice_id == invoice_id))).scalar_one())


async def next_sequence(session: AsyncSession, invoice_id: uuid.UUID) -> int:
    """The invoice row is locked by the caller, so two notes never read the same number (and a unique key
    on (invoice, sequence) would refuse the second anyway)."""
    return int((await session.execute(select(func.coalesce(func.max(CreditNote.sequential_id), 0)).where(
        CreditNote.invoice_id == invoice_id))).scalar_one()) + 1


async def add(session: AsyncSession, note: CreditNote, items: list[CreditNoteItem],
              credit: CustomerCredit | None) -> None:
    session.add(note)
    await session.flush()
    session.add_all(items)
    if credit is not None:
        session.add(credit)
    await session.flush()


async def get(session: AsyncSession, organization_id: uuid.UUID, note_id: uuid.UUID, *,
              lock: bool = False) -> CreditNote | None:
    statement = select(CreditNote).where(CreditNote.organization_id == organization_id, CreditNote.id == note_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def page(session: AsyncSession, organization_id: uuid.UUID, *, customer_id: uuid.UUID | None,
               external_customer_id: str | None, invoice_id: uuid.UUID | None, reason: str | None,
               limit: int, offset: int) -> tuple[list[CreditNote], int]:
    conditions = [CreditNote.organization_id == organization_id]
    if customer_id is not None:
        conditions.append(CreditNote.customer_id == customer_id)
    if external_customer_id is not None:
        conditions.append(CreditNote.external_customer_id == external_customer_id)
    if invoice_id is not None:
        conditions.append(CreditNote.invoice_id == invoice_id)
    if reason is not None:
        conditions.append(CreditNote.reason == reason)
    total = int((await session.execute(select(func.count()).select_from(CreditNote).where(*conditions)))
                .scalar_one())
    rows = list((await session.execute(select(CreditNote).where(*conditions).order_by(
        CreditNote.created_at.desc(), CreditNote.id.desc()).limit(limit).offset(offset))).scalars())
    return rows, total


ItemsByNote = dict[uuid.UUID, list[tuple[CreditNoteItem, Fee]]]


async def items_of(session: AsyncSession, note_ids: list[uuid.UUID]) -> ItemsByNote:
    found: ItemsByNote = defaultdict(list)
    if note_ids:
        for item, fee in (await session.execute(select(CreditNoteItem, Fee).join(Fee, Fee.id == CreditNoteItem.fee_id)
                                                .where(CreditNoteItem.credit_note_id.in_(note_ids))
                                                .order_by(CreditNoteItem.created_at, CreditNoteItem.id))).all():
            found[item.credit_note_id].append((item, fee))
    return found


async def credits_of(session: AsyncSession, note_ids: list[uuid.UUID],
                     *, lock: bool = False) -> dict[uuid.UUID, CustomerCredit]:
    if not note_ids:
        return {}
    statement = select(CustomerCredit).where(CustomerCredit.credit_note_id.in_(note_ids))
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return {credit.credit_note_id: credit for credit in (await session.execute(statement)).scalars()}  # type: ignore[misc]


async def save(session: AsyncSession, note: CreditNote) -> None:
    """Write the note's changes and read back what the database set (`updated_at`)."""
    await session.flush()
    await session.refresh(note)


async def record_payment(session: AsyncSession, payment: InvoicePayment) -> bool:
    """Once per (invoice, payment): a redelivered `payment.succeeded` changes nothing. Whether it was new."""
    return (await session.execute(insert(InvoicePayment).values(
        organization_id=payment.organization_id, invoice_id=payment.invoice_id, payment_id=payment.payment_id,
        amount_cents=payment.amount_cents, currency=payment.currency, paid_at=payment.paid_at,
    ).on_conflict_do_nothing().returning(InvoicePayment.payment_id))).first() is not None


async def refundable_by_payment(session: AsyncSession, invoice_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Each payment of the invoice, less what the invoice's credit notes asked of it (failed refunds aside),
    newest payment first (the order refunds are split in)."""
    paid = (await session.execute(select(InvoicePayment.payment_id, InvoicePayment.amount_cents).where(
        InvoicePayment.invoice_id == invoice_id).order_by(InvoicePayment.paid_at.desc(),
                                                          InvoicePayment.payment_id.desc()))).all()
    asked = select(CreditNoteRefund.payment_id, func.sum(CreditNoteRefund.amount_cents)).where(
        CreditNoteRefund.invoice_id == invoice_id, CreditNoteRefund.status != "failed").group_by(
        CreditNoteRefund.payment_id)
    refunded = dict((await session.execute(asked)).all())
    return {payment_id: int(amount) - int(refunded.get(payment_id, 0)) for payment_id, amount in paid}


async def add_refunds(session: AsyncSession, parts: list[CreditNoteRefund]) -> None:
    session.add_all(parts)
    await session.flush()


async def refund_part(session: AsyncSession, organization_id: uuid.UUID, part_id: uuid.UUID) -> CreditNoteRefund | None:
    statement = select(CreditNoteRefund).where(CreditNoteRefund.organization_id == organization_id,
                                               CreditNoteRefund.id == part_id).with_for_update()
    return (await session.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()


async def refund_statuses(session: AsyncSession, note_id: uuid.UUID) -> list[str]:
    return list((await session.execute(select(CreditNoteRefund.status).where(
        CreditNoteRefund.credit_note_id == note_id))).scalars())


async def note_of_terminated_subscription(session: AsyncSession, organization_id: uuid.UUID,
                                          subscription_id: uuid.UUID) -> uuid.UUID | None:
    """The note that credited this terminated (or upgraded) subscription's unused advance fee, if any."""
    return (await session.execute(select(CreditNote.id).where(
        CreditNote.organization_id == organization_id,
        CreditNote.terminated_subscription_id == subscription_id))).scalar_one_or_none()
