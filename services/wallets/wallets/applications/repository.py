"""SQL of credit applications (one row per invoice: the saga's idempotency key) and their movements."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

# a second request for the same invoice waits here for the first one's transaction, then finds its row
_CLAIM = text(
    """
    INSERT INTO credit_applications (organization_id, lago_invoice_id, external_customer_id, currency, status,
                                     requested_amount_cents)
    VALUES (:org, :invoice, :customer, :currency, :status, :requested)
    ON CONFLICT (organization_id, lago_invoice_id) DO NOTHING
    RETURNING lago_invoice_id
    """
)
_GET = text("SELECT * FROM credit_applications WHERE organization_id = :org AND lago_invoice_id = :invoice")
_GET_FOR_UPDATE = text(
    "SELECT * FROM credit_applications WHERE organization_id = :org AND lago_invoice_id = :invoice FOR UPDATE"
)
_RECORD_ANSWER = text(
    """
    UPDATE credit_applications SET applied_amount_cents = :applied, answer = CAST(:answer AS jsonb)
    WHERE organization_id = :org AND lago_invoice_id = :invoice
    """
)
_RELEASE = text(
    """
    UPDATE credit_applications SET status = 'released', released_amount_cents = :released, released_at = :now
    WHERE organization_id = :org AND lago_invoice_id = :invoice AND status = 'applied'
    """
)
_CONSUMPTION_LEGS = text(
    """
    SELECT e.movement_id, e.wallet_id, e.block_id, -e.amount_cents AS cents, -e.credits AS credits
    FROM wallet_transactions t JOIN ledger_entries e ON e.movement_id = t.id
    WHERE t.organization_id = :org AND t.lago_invoice_id = :invoice AND t.transaction_status = 'invoiced'
      AND e.account = 'wallet' AND e.kind = 'consumption'
    ORDER BY e.id
    """
)


async def claim(session: AsyncSession, *, organization_id: uuid.UUID, invoice_id: uuid.UUID, customer: str | None,
                currency: str | None, status: str, requested: int) -> bool:
    return (await session.execute(_CLAIM, {
        "org": organization_id, "invoice": invoice_id, "customer": customer, "currency": currency, "status": status,
        "requested": requested})).first() is not None


async def get(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID, *,
              lock: bool = False) -> RowMapping | None:
    return (await session.execute(_GET_FOR_UPDATE if lock else _GET, {"org": organization_id, "invoice": invoice_id})
            ).mappings().first()


async def record_answer(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID, applied: int,
                        answer: dict[str, Any]) -> None:
    await session.execute(_RECORD_ANSWER, {"org": organization_id, "invoice": invoice_id, "applied": applied,
                                           "answer": json.dumps(answer)})


async def mark_released(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID, released: int,
                        now) -> None:
    await session.execute(_RELEASE, {"org": organization_id, "invoice": invoice_id, "released": released, "now": now})


async def consumption_legs(session: AsyncSession, organization_id: uuid.UUID,
                           invoice_id: uuid.UUID) -> list[RowMapping]:
    return list((await session.execute(_CONSUMPTION_LEGS, {"org": organization_id, "invoice": invoice_id})
                 ).mappings().all())


# claims in (organization, invoice) order, so two batches claiming overlapping invoices wait rather than deadlock
_CLAIM_MANY = text(
    """
    INSERT INTO credit_applications (organization_id, lago_invoice_id, external_customer_id, currency, status,
                                     requested_amount_cents)
    SELECT o, i, c, cur, 'applied', r
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:invoices AS uuid[]), CAST(:customers AS varchar[]),
                CAST(:currencies AS varchar[]), CAST(:requested AS bigint[])) AS a(o, i, c, cur, r)
    ORDER BY o, i
    ON CONFLICT (organization_id, lago_invoice_id) DO NOTHING
    RETURNING organization_id, lago_invoice_id
    """
)
_GET_MANY = text(
    """
    SELECT a.* FROM credit_applications a
    JOIN unnest(CAST(:orgs AS uuid[]), CAST(:invoices AS uuid[])) AS k(o, i)
      ON a.organization_id = k.o AND a.lago_invoice_id = k.i
    """
)
_RECORD_ANSWERS = text(
    """
    UPDATE credit_applications a SET applied_amount_cents = v.applied, answer = v.answer
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:invoices AS uuid[]), CAST(:applied AS bigint[]),
                CAST(:answers AS jsonb[])) AS v(o, i, applied, answer)
    WHERE a.organization_id = v.o AND a.lago_invoice_id = v.i
    """
)


async def claim_many(session: AsyncSession, rows: list[tuple[uuid.UUID, uuid.UUID, str, str, int]],
                     ) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Claim (organization, invoice, customer, currency, requested) rows; the keys this transaction now holds."""
    if not rows:
        return set()
    result = await session.execute(_CLAIM_MANY, {
        "orgs": [r[0] for r in rows], "invoices": [r[1] for r in rows], "customers": [r[2] for r in rows],
        "currencies": [r[3] for r in rows], "requested": [r[4] for r in rows]})
    return {(row.organization_id, row.lago_invoice_id) for row in result}


async def get_many(session: AsyncSession, keys: list[tuple[uuid.UUID, uuid.UUID]]) -> dict[tuple, RowMapping]:
    if not keys:
        return {}
    rows = (await session.execute(_GET_MANY, {"orgs": [k[0] for k in keys], "invoices": [k[1] for k in keys]})
            ).mappings().all()
    return {(row["organization_id"], row["lago_invoice_id"]): row for row in rows}


async def record_answers(session: AsyncSession, answers: list[tuple[uuid.UUID, uuid.UUID, int, dict[str, Any]]],
                         ) -> None:
    if not answers:
        return
    await session.execute(_RECORD_ANSWERS, {
        "orgs": [a[0] for a in answers], "invoices": [a[1] for a in answers], "applied": [a[2] for a in answers],
        "answers": [json.dumps(a[3]) for a in answers]})


_SETTLE = text(
    """
    UPDATE credit_applications SET settled_at = :at
    WHERE organization_id = :org AND lago_invoice_id = ANY(:invoices) AND settled_at IS NULL
    """
)


async def settle(session: AsyncSession, organization_id: uuid.UUID, invoice_ids: list[uuid.UUID], at) -> None:
    """The invoices were paid: what was applied to them stops being pending (once)."""
    await session.execute(_SETTLE, {"org": organization_id, "invoices": list(invoice_ids), "at": at})
