"""SQL of payment requests: the requests, what each asks of its invoices, reads."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta

_INSERT = text(
    """
    INSERT INTO payment_requests (id, organization_id, customer_id, external_customer_id, email, amount_cents,
                                  currency, payment_status, created_at, updated_at)
    VALUES (:id, :organization_id, :customer_id, :external_customer_id, :email, :amount_cents, :currency, 'pending',
            :now, :now)
    """
)
_INSERT_LINE = text("INSERT INTO payment_request_invoices (payment_request_id, invoice_id, amount_cents) "
                    "VALUES (:request_id, :invoice_id, :amount_cents)")
_SELECT = ("SELECT r.*, c.name AS customer_name, c.email AS customer_email, c.currency AS customer_currency "
           "FROM payment_requests r LEFT JOIN customers c ON c.id = r.customer_id")
_LINES = text(
    """
    SELECT pri.invoice_id, pri.amount_cents AS requested_amount_cents, i.number, i.status, i.currency,
           i.total_amount_cents
    FROM payment_request_invoices pri JOIN invoices i ON i.id = pri.invoice_id
    WHERE pri.payment_request_id = :id ORDER BY pri.invoice_id
    """
)
_LOCK_LINES = text(
    """
    SELECT i.*, pri.amount_cents AS requested_amount_cents FROM payment_request_invoices pri
    JOIN invoices i ON i.id = pri.invoice_id WHERE pri.payment_request_id = :id ORDER BY i.id FOR UPDATE OF i
    """
)
_LOCK = text("SELECT * FROM payment_requests WHERE id = :id FOR UPDATE")
_SET_STATUS = text("UPDATE payment_requests SET payment_status = :status, updated_at = now() WHERE id = :id")


async def insert(session: AsyncSession, values: dict[str, Any], lines: list[tuple[uuid.UUID, int]]) -> None:
    await session.execute(_INSERT, values)
    for invoice_id, amount in lines:
        await session.execute(_INSERT_LINE, {"request_id": values["id"], "invoice_id": invoice_id,
                                             "amount_cents": amount})


async def by_id(session: AsyncSession, organization_id: uuid.UUID, request_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(text(f"{_SELECT} WHERE r.organization_id = :org AND r.id = :id"),
                                  {"org": organization_id, "id": request_id})).mappings().first()


async def lines(session: AsyncSession, request_id: uuid.UUID) -> list[RowMapping]:
    return list((await session.execute(_LINES, {"id": request_id})).mappings().all())


async def lock_invoices(session: AsyncSession, request_id: uuid.UUID) -> list[RowMapping]:
    return list((await session.execute(_LOCK_LINES, {"id": request_id})).mappings().all())


async def lock(session: AsyncSession, request_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_LOCK, {"id": request_id})).mappings().first()


async def set_status(session: AsyncSession, request_id: uuid.UUID, status: str) -> None:
    await session.execute(_SET_STATUS, {"id": request_id, "status": status})


async def list_page(session: AsyncSession, organization_id: uuid.UUID, *, external_customer_id: str | None,
                    customer_id: uuid.UUID | None, payment_status: str | None, currency: str | None,
                    params: PageParams) -> tuple[list[RowMapping], PaginationMeta]:
    where = ["r.organization_id = :org"]
    binds: dict[str, Any] = {"org": organization_id}
    for column, value in (("external_customer_id", external_customer_id), ("customer_id", customer_id),
                          ("payment_status", payment_status), ("currency", currency)):
        if value is not None:
            where.append(f"r.{column} = :{column}")
            binds[column] = value
    condition = " AND ".join(where)
    total = (await session.execute(text(f"SELECT count(*) FROM payment_requests r WHERE {condition}"), binds)
             ).scalar_one()
    rows = (await session.execute(text(
        f"{_SELECT} WHERE {condition} ORDER BY r.created_at DESC, r.id DESC LIMIT :limit OFFSET :offset"),
        {**binds, "limit": params.per_page, "offset": params.offset})).mappings().all()
    return list(rows), params.meta(total)


_OPEN_WITH_INVOICE = text(
    """
    SELECT r.id, r.organization_id FROM payment_requests r
    JOIN payment_request_invoices pri ON pri.payment_request_id = r.id
    WHERE pri.invoice_id = :invoice_id AND r.payment_status <> 'succeeded'
    ORDER BY r.id FOR UPDATE OF r
    """
)
_INVOICE_IDS = text("SELECT invoice_id FROM payment_request_invoices WHERE payment_request_id = :id")


async def open_with_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> list[RowMapping]:
    return list((await session.execute(_OPEN_WITH_INVOICE, {"invoice_id": invoice_id})).mappings().all())


async def invoice_ids(session: AsyncSession, request_id: uuid.UUID) -> list[uuid.UUID]:
    return list((await session.execute(_INVOICE_IDS, {"id": request_id})).scalars().all())
