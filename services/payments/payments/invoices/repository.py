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
_BY_ID = text("SELECT * FROM invoices WHERE organization_id = :org AND id = :id")
_LOCK = text("SELECT * FROM invoices WHERE organization_id = :org AND id = :id FOR UPDATE")
# what the invoice still owes: its total less what succeeded payments took (its own, and its share of its
# payment requests' succeeded payments), plus what was refunded of them
_PAID = text(
    """
    SELECT COALESCE(SUM(p.amount_cents), 0) -
           COALESCE((SELECT SUM(r.amount_cents) FROM refunds r
                     WHERE r.invoice_id = :id AND r.status = 'succeeded'), 0) +
           COALESCE((SELECT SUM(pri.amount_cents) FROM payment_request_invoices pri
                     JOIN payments rp ON rp.payment_request_id = pri.payment_request_id
                     WHERE pri.invoice_id = :id AND rp.payment_status = 'succeeded'), 0)
    FROM payments p WHERE p.invoice_id = :id AND p.payment_status = 'succeeded'
    """
)


async def upsert(session: AsyncSession, values: dict[str, Any]) -> bool:
    return (await session.execute(_UPSERT, values)).first() is not None


async def by_id(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID, *,
                lock: bool = False) -> RowMapping | None:
    return (await session.execute(_LOCK if lock else _BY_ID, {"org": organization_id, "id": invoice_id})
            ).mappings().first()


async def paid_cents(session: AsyncSession, invoice_id: uuid.UUID) -> int:
    return int((await session.execute(_PAID, {"id": invoice_id})).scalar_one())
