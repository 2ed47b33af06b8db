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
# that lock, so it is taken by ONE statement per organization, the last before the commit (see
# `service.issue_many`): the counter moved by the number of receipts, the receipts with consecutive numbers
# in the order given, and each number written into its receipt's `payment_receipt.created` outbox row
# (added earlier in the same transaction; the relay sees it only once committed). The number is formatted
# as `service.number_of` does (`PREFIX-` and at least six digits).
_ISSUE_MANY = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:payment_ids AS uuid[]), CAST(:event_ids AS uuid[]),
                             CAST(:created_ats AS timestamptz[])) WITH ORDINALITY AS w(id, payment_id, event_id,
                                                                                        created_at, n)
    ), counter AS (
        INSERT INTO payment_receipt_counters (organization_id, last_number) VALUES (:org, CAST(:count AS bigint))
        ON CONFLICT (organization_id)
        DO UPDATE SET last_number = payment_receipt_counters.last_number + EXCLUDED.last_number
        RETURNING last_number
    ), numbered AS (
        SELECT w.id, w.payment_id, w.event_id, w.created_at, c.last_number - CAST(:count AS bigint) + w.n AS seq
        FROM wanted w CROSS JOIN counter c
    ), formatted AS MATERIALIZED (
        SELECT numbered.*, :prefix || '-' || CASE WHEN seq < 1000000 THEN lpad(seq::text, 6, '0')
                                                  ELSE seq::text END AS number
        FROM numbered
    ), receipt AS (
        INSERT INTO payment_receipts (id, organization_id, payment_id, sequential_id, number, created_at)
        SELECT id, :org, payment_id, seq, number, created_at FROM formatted
        RETURNING id
    ), event AS (
        UPDATE outbox_events o SET envelope = jsonb_set(o.envelope, '{data,payment_receipt,number}', to_jsonb(f.number))
        FROM formatted f WHERE o.event_id = f.event_id
        RETURNING o.event_id
    )
    SELECT (SELECT count(*) FROM receipt) AS receipts, (SELECT count(*) FROM event) AS events
    """
)
_EXISTING = text("SELECT payment_id FROM payment_receipts WHERE payment_id = ANY(CAST(:payment_ids AS uuid[]))")
_SELECT = (
    "SELECT r.id AS receipt_id, r.number AS receipt_number, r.created_at AS receipt_created_at, p.*, "
    f"{PAYABLE_COLUMNS} FROM payment_receipts r JOIN payments p ON p.id = r.payment_id "
    "LEFT JOIN invoices i ON i.id = p.invoice_id"
)


async def existing_for(session: AsyncSession, payment_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these payments have a receipt."""
    return set((await session.execute(_EXISTING, {"payment_ids": payment_ids})).scalars())


async def insert_numbered_many(session: AsyncSession, organization_id: uuid.UUID, prefix: str,
                               receipts: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, Any]]) -> RowMapping:
    """The organization's receipts, (id, payment id, outbox event id, created at) each, numbered in that order
    with its next numbers, also written into their events' outbox rows; the counter row stays locked until
    the transaction ends. Returns how many receipts and events were written."""
    ids, payment_ids, event_ids, created_ats = (list(column) for column in zip(*receipts, strict=True))
    return (await session.execute(_ISSUE_MANY, {
        "org": organization_id, "prefix": prefix, "count": len(receipts), "ids": ids, "payment_ids": payment_ids,
        "event_ids": event_ids, "created_ats": created_ats})).mappings().one()


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
