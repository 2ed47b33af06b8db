"""SQL of the invoices projection."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

_UPSERT = text(
    """
    INSERT INTO invoices (id, organization_id, customer_id, external_customer_id, number, currency,
                          total_amount_cents, status, last_sequence)
    VALUES (:id, :org, :customer_id, :external_customer_id, :number, :currency, :total, :status, :sequence)
    ON CONFLICT (id) DO UPDATE SET
        number = EXCLUDED.number, currency = EXCLUDED.currency, total_amount_cents = EXCLUDED.total_amount_cents,
        status = EXCLUDED.status, last_sequence = EXCLUDED.last_sequence, updated_at = now()
    WHERE invoices.last_sequence < EXCLUDED.last_sequence AND invoices.organization_id = EXCLUDED.organization_id
    RETURNING id
    """
)
_UPSERT_MANY = text(_UPSERT.text.replace("RETURNING id", ""))  # executemany: no rows back
_BY_ID = text("SELECT * FROM invoices WHERE organization_id = :org AND id = :id")
_LOCK = text("SELECT * FROM invoices WHERE organization_id = :org AND id = :id FOR UPDATE")
_LOCK_MANY = text("SELECT * FROM invoices WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE")
# what each invoice still owes: its total less what succeeded payments took (its own, and its share of its
# payment requests' succeeded payments), plus what an admin refunded of them (owed again), less its credit
# notes' offsets (`paid_cents` is what is settled: paid or offset); one statement for one invoice or several.
# A credit note's refund (`requested_by` 'credit_note') is not owed again: the note lowered what the invoice
# owes by that amount (counting it charged the customer the refunded money a second time)
_PAID = text(
    """
    SELECT i.id,
           COALESCE((SELECT SUM(p.amount_cents) FROM payments p
                     WHERE p.invoice_id = i.id AND p.payment_status = 'succeeded'), 0) -
           COALESCE((SELECT SUM(r.amount_cents) FROM refunds r
                     WHERE r.invoice_id = i.id AND r.status = 'succeeded'
                       AND r.requested_by IS DISTINCT FROM 'credit_note'), 0) +
           COALESCE((SELECT SUM(pri.amount_cents) FROM payment_request_invoices pri
                     JOIN payments rp ON rp.payment_request_id = pri.payment_request_id
                     WHERE pri.invoice_id = i.id AND rp.payment_status = 'succeeded'), 0) +
           COALESCE((SELECT SUM(o.amount_cents) FROM invoice_offsets o WHERE o.invoice_id = i.id), 0) AS paid
    FROM unnest(CAST(:ids AS uuid[])) AS i(id)
    """
)


_OFFSET = text(
    """
    INSERT INTO invoice_offsets (credit_note_id, organization_id, invoice_id, amount_cents)
    VALUES (:note, :org, :invoice, :amount) ON CONFLICT (credit_note_id) DO NOTHING RETURNING credit_note_id
    """
)


async def record_offset(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID,
                        credit_note_id: uuid.UUID, amount_cents: int) -> bool:
    """Once per credit note (a redelivery, or the same note id seen again, records nothing). Whether it was new."""
    return (await session.execute(_OFFSET, {"note": credit_note_id, "org": organization_id, "invoice": invoice_id,
                                            "amount": amount_cents})).first() is not None


async def upsert(session: AsyncSession, values: dict[str, Any]) -> bool:
    return (await session.execute(_UPSERT, values)).first() is not None


async def upsert_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """`upsert` for several invoices (one round trip, asyncpg's executemany)."""
    if rows:
        await session.execute(_UPSERT_MANY, rows)


async def by_id(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID, *,
                lock: bool = False) -> RowMapping | None:
    return (await session.execute(_LOCK if lock else _BY_ID, {"org": organization_id, "id": invoice_id})
            ).mappings().first()


async def paid_cents(session: AsyncSession, invoice_id: uuid.UUID) -> int:
    return (await paid_cents_many(session, [invoice_id]))[invoice_id]


async def lock_many(session: AsyncSession, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, RowMapping]:
    """Several invoices under lock, in id order (callers check each one's organization)."""
    return {row["id"]: row for row in (await session.execute(_LOCK_MANY, {"ids": invoice_ids})).mappings()}


async def paid_cents_many(session: AsyncSession, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return {row.id: int(row.paid) for row in await session.execute(_PAID, {"ids": invoice_ids})}
