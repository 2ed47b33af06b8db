"""SQL of payment receipts: the gapless counter, the receipts, reads (joined with their payment)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta
from payments.payments.repository import PAYABLE_COLUMNS

# The counter row stays locked until the issuing transaction ends: numbers are unique and, since a
# rolled-back transaction gives its increment back, gapless. Every success of an organization waits for
# that lock, so it is taken by ONE statement, the last before the commit (see `service.issue`): the
# counter, the receipt with its number, and the number written into the receipt's `payment_receipt.created`
# outbox row (added earlier in the same transaction; the relay sees it only once committed). The number is
# formatted as `service.number_of` does (`PREFIX-` and at least six digits).
_ISSUE = text(
    """
    WITH counter AS (
        INSERT INTO payment_receipt_counters (organization_id, last_number) VALUES (:org, 1)
        ON CONFLICT (organization_id) DO UPDATE SET last_number = payment_receipt_counters.last_number + 1
        RETURNING last_number
    ), numbered AS (
        SELECT last_number, :prefix || '-' || CASE WHEN last_number < 1000000 THEN lpad(last_number::text, 6, '0')
                                                   ELSE last_number::text END AS number
        FROM counter
    ), receipt AS (
        INSERT INTO payment_receipts (id, organization_id, payment_id, sequential_id, number, created_at)
        SELECT :id, :org, :payment_id, last_number, number, :created_at FROM numbered
        RETURNING sequential_id, number
    ), event AS (
        UPDATE outbox_events SET envelope = jsonb_set(envelope, '{data,payment_receipt,number}',
                                                      to_jsonb((SELECT number FROM numbered)))
        WHERE event_id = :event_id
        RETURNING event_id
    )
    SELECT receipt.sequential_id, receipt.number, (SELECT count(*) FROM event) AS events FROM receipt
    """
)
_EXISTS = text("SELECT EXISTS (SELECT 1 FROM payment_receipts WHERE payment_id = :payment_id)")
_SELECT = (
    "SELECT r.id AS receipt_id, r.number AS receipt_number, r.created_at AS receipt_created_at, p.*, "
    f"{PAYABLE_COLUMNS} FROM payment_receipts r JOIN payments p ON p.id = r.payment_id "
    "LEFT JOIN invoices i ON i.id = p.invoice_id"
)


async def exists_for(session: AsyncSession, payment_id: uuid.UUID) -> bool:
    return bool((await session.execute(_EXISTS, {"payment_id": payment_id})).scalar_one())


async def insert_numbered(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    """The receipt with the organization's next number, also written into its event's outbox row (`event_id`);
    the counter row stays locked until the transaction ends."""
    return (await session.execute(_ISSUE, values)).mappings().one()


async def by_id(session: AsyncSession, organization_id: uuid.UUID, receipt_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(text(f"{_SELECT} WHERE r.organization_id = :org AND r.id = :id"),
                                  {"org": organization_id, "id": receipt_id})).mappings().first()


async def list_page(session: AsyncSession, organization_id: uuid.UUID, *, invoice_id: uuid.UUID | None,
                    customer_id: uuid.UUID | None, params: PageParams) -> tuple[list[RowMapping], PaginationMeta]:
    where = ["r.organization_id = :org"]
    binds: dict[str, Any] = {"org": organization_id}
    if invoice_id is not None:
        where.append("(p.invoice_id = :invoice_id OR EXISTS (SELECT 1 FROM payment_request_invoices pri "
                     "WHERE pri.payment_request_id = p.payment_request_id AND pri.invoice_id = :invoice_id))")
        binds["invoice_id"] = invoice_id
    if customer_id is not None:
        where.append("p.customer_id = :customer_id")
        binds["customer_id"] = customer_id
    condition = " AND ".join(where)
    total = (await session.execute(text(
        f"SELECT count(*) FROM payment_receipts r JOIN payments p ON p.id = r.payment_id WHERE {condition}"),
        binds)).scalar_one()
    rows = (await session.execute(text(
        f"{_SELECT} WHERE {condition} ORDER BY r.sequential_id DESC LIMIT :limit OFFSET :offset"),
        {**binds, "limit": params.per_page, "offset": params.offset})).mappings().all()
    return list(rows), params.meta(total)
