"""SQL of payments: attempts, the charger's claims, outcomes, reads."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta

_COLUMNS = ("id", "organization_id", "invoice_id", "customer_id", "external_customer_id", "type", "amount_cents",
            "currency", "payment_status", "provider_status", "reference", "idempotency_key", "payment_provider_id",
            "payment_provider_code", "payment_provider_type", "provider_payment_id", "payment_method_id", "paid_on",
            "payment_request_id",
            "paid_at", "created_at", "updated_at")

# ON CONFLICT DO NOTHING: the partial unique index on live provider attempts makes a second attempt for
# an invoice that already has one a no-op (a replayed `invoice.finalized`, two consumers racing)
_INSERT = text(
    f"""
    INSERT INTO payments ({", ".join(_COLUMNS)})
    VALUES ({", ".join(f"COALESCE(:{c}, now())" if c.endswith("ed_at") and c != "paid_at" else ":" + c
                       for c in _COLUMNS)})
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)
# a payment pays one invoice or a payment request (its invoices, listed with their numbers)
_REQUEST_COLUMNS = (
    "ARRAY(SELECT pri.invoice_id FROM payment_request_invoices pri WHERE pri.payment_request_id = p.payment_request_id "
    "ORDER BY pri.invoice_id) AS request_invoice_ids, "
    "ARRAY(SELECT ri.number FROM payment_request_invoices pri JOIN invoices ri ON ri.id = pri.invoice_id "
    "WHERE pri.payment_request_id = p.payment_request_id AND ri.number IS NOT NULL ORDER BY pri.invoice_id"
    ") AS request_invoice_numbers"
)
PAYABLE_COLUMNS = f"i.number AS invoice_number, {_REQUEST_COLUMNS}"
_SELECT = f"SELECT p.*, {PAYABLE_COLUMNS} FROM payments p LEFT JOIN invoices i ON i.id = p.invoice_id"
_BY_ID = text(f"{_SELECT} WHERE p.organization_id = :org AND p.id = :id")
_LOCK = text("SELECT * FROM payments WHERE organization_id = :org AND id = :id FOR UPDATE")
_LOCK_ANY = text("SELECT * FROM payments WHERE id = :id FOR UPDATE")
_BY_PROVIDER_PAYMENT_ID = text(
    "SELECT * FROM payments WHERE payment_provider_id = :provider_id AND provider_payment_id = :ppid FOR UPDATE"
)
_BY_PROVIDER_ORDER_ID = text(
    "SELECT * FROM payments WHERE payment_provider_id = :provider_id AND provider_order_id = :oid FOR UPDATE"
)
_SET_PROVIDER_ORDER_ID = text(
    "UPDATE payments SET provider_order_id = :oid WHERE payment_provider_id = :provider_id "
    "AND provider_payment_id = :ppid AND provider_order_id IS NULL"
)
_ATTEMPTS = text("SELECT count(*) FROM payments WHERE invoice_id = :invoice_id AND type = 'provider'")
# Due attempts, oldest first, each connection's at most its free call slots: its limit (`PROVIDER_CONCURRENCY`, by
# provider type: `:types`/`:limits`, else `:default_limit`) less its attempts leased now (a lease is held from the
# claim until the answer is recorded, so leased = in flight, whichever process holds it). The connections with
# pending attempts are found by a skip scan of `ix_payments_pending_by_provider` (one index probe per connection),
# each one's leased attempts counted on `ix_payments_leased_by_provider`, and its oldest due attempts read in
# `created_at` order on the first index, `LIMIT` its free slots: the cost follows the connections and the rows
# taken, not the queue (a window function ranking every due attempt per connection cost 11 ms a claim with
# 10,000 queued, this 0.5 ms; docs/payments.md "Speed"). Two claims at the same instant take from the same
# candidates (SKIP LOCKED skips what the other locked; what it committed fails the re-check), so together they
# stay within the limit; claims whose `now` differ may see different attempts due and overshoot by at most one
# claim's worth (the second one's free slots).
_CLAIM_DUE = text(
    """
    WITH RECURSIVE queued(provider_id) AS (
        (SELECT payment_provider_id FROM payments WHERE payment_status = 'pending' AND type = 'provider'
         ORDER BY payment_provider_id LIMIT 1)
        UNION ALL
        SELECT (SELECT p.payment_provider_id FROM payments p
                WHERE p.payment_status = 'pending' AND p.type = 'provider' AND p.payment_provider_id > q.provider_id
                ORDER BY p.payment_provider_id LIMIT 1)
        FROM queued q WHERE q.provider_id IS NOT NULL),
    room AS (
        SELECT q.provider_id,
               COALESCE((SELECT l.max_in_flight FROM payment_providers pp
                         JOIN unnest(CAST(:types AS text[]), CAST(:limits AS integer[]))
                              AS l(provider_type, max_in_flight) ON l.provider_type = pp.provider_type
                         WHERE pp.id = q.provider_id), :default_limit)
               - (SELECT count(*) FROM payments b
                  WHERE b.payment_provider_id = q.provider_id AND b.payment_status = 'pending' AND b.type = 'provider'
                    AND b.lease_until >= :now) AS free
        FROM queued q WHERE q.provider_id IS NOT NULL),
    candidates AS MATERIALIZED (
        SELECT due.id FROM room, LATERAL (
            SELECT p.id FROM payments p
            WHERE p.payment_provider_id = room.provider_id AND p.payment_status = 'pending' AND p.type = 'provider'
              AND (p.lease_until IS NULL OR p.lease_until < :now)
              AND (p.next_attempt_at IS NULL OR p.next_attempt_at <= :now)
            ORDER BY p.created_at LIMIT GREATEST(room.free, 0)) due)
    UPDATE payments SET lease_until = :lease_until
    WHERE id IN (
        SELECT id FROM payments
        WHERE id = ANY(ARRAY(SELECT id FROM candidates))
          AND payment_status = 'pending' AND type = 'provider'
          AND (lease_until IS NULL OR lease_until < :now) AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
        ORDER BY created_at LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    RETURNING *
    """
)
UNBOUNDED = 2**31 - 1
# the claimer still holds its lease: only then may it call the provider (a claimer whose lease ran out
# leaves the payment to the process that took it over)
_MARK_CALLED = text(
    """
    UPDATE payments SET calls = calls + 1, amount_cents = :amount_cents, provider_customer_id = :provider_customer_id,
                        updated_at = now()
    WHERE id = :id AND payment_status = 'pending' AND lease_until = :lease_until
    RETURNING calls
    """
)
# several claimed attempts taken at once, in their claim's transaction (the same conditions as `_MARK_CALLED`)
_MARK_CALLED_MANY = text(
    """
    UPDATE payments p SET calls = p.calls + 1, amount_cents = v.amount_cents,
                          provider_customer_id = v.provider_customer_id, updated_at = now()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:amounts AS bigint[]), CAST(:customers AS text[]))
         AS v(id, amount_cents, provider_customer_id)
    WHERE p.id = v.id AND p.payment_status = 'pending' AND p.lease_until = :lease_until
    RETURNING p.id
    """
)
# the provider's answers of a batch, in one statement (what `set_outcome` does for one, every outcome column
# given for each row: the caller holds the rows locked and passes the current value of a column it does not
# change); returns each row as `by_id` reads it
OUTCOME_COLUMNS = ("provider_status", "provider_payment_id", "payment_method_id", "payment_status", "paid_at",
                   "paid_on", "failure_category", "failure_code", "failure_message", "next_action")
_OUTCOME_TYPES = {"paid_at": "timestamptz", "paid_on": "date", "next_action": "jsonb"}
_SET_OUTCOMES = text(
    f"""
    UPDATE payments p SET {", ".join(f"{c} = v.{c}" for c in OUTCOME_COLUMNS)}, lease_until = NULL, updated_at = now()
    FROM unnest(CAST(:id AS uuid[]), {", ".join(f"CAST(:{c} AS {_OUTCOME_TYPES.get(c, 'text')}[])"
                                                 for c in OUTCOME_COLUMNS)})
         AS v(id, {", ".join(OUTCOME_COLUMNS)})
    WHERE p.id = v.id
    RETURNING p.*, (SELECT i.number FROM invoices i WHERE i.id = p.invoice_id) AS invoice_number,
      {_REQUEST_COLUMNS}
    """
)
_LOCK_MANY = text("SELECT * FROM payments WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE")
_RELEASE = text(
    """
    UPDATE payments SET lease_until = NULL, next_attempt_at = :next_attempt_at, updated_at = now()
    WHERE id = :id AND lease_until = :lease_until
    """
)
_LIVE_FOR_PROVIDER = text(
    "SELECT EXISTS (SELECT 1 FROM payments WHERE payment_provider_id = :provider_id "
    "AND payment_status IN ('pending', 'processing', 'requires_action'))"
)
_UNCALLED_LIVE = text(
    """
    SELECT * FROM payments WHERE invoice_id = :invoice_id AND type = 'provider' AND payment_status = 'pending'
      AND calls = 0 FOR UPDATE
    """
)


# a charge of the invoice under way: its own attempt, or one of a payment request that includes it
_LIVE_ATTEMPT = text(
    """
    SELECT EXISTS (SELECT 1 FROM payments WHERE invoice_id = :invoice_id AND type = 'provider'
                   AND payment_status IN ('pending', 'processing', 'requires_action'))
        OR EXISTS (SELECT 1 FROM payment_request_invoices pri
                   JOIN payments p ON p.payment_request_id = pri.payment_request_id
                   WHERE pri.invoice_id = :invoice_id AND p.type = 'provider'
                     AND p.payment_status IN ('pending', 'processing', 'requires_action'))
    """
)
# `_LIVE_ATTEMPT` and `_ATTEMPTS` for several invoices
_LIVE_ATTEMPTS = text(
    """
    SELECT v.id FROM unnest(CAST(:invoice_ids AS uuid[])) AS v(id)
    WHERE EXISTS (SELECT 1 FROM payments WHERE invoice_id = v.id AND type = 'provider'
                  AND payment_status IN ('pending', 'processing', 'requires_action'))
       OR EXISTS (SELECT 1 FROM payment_request_invoices pri
                  JOIN payments p ON p.payment_request_id = pri.payment_request_id
                  WHERE pri.invoice_id = v.id AND p.type = 'provider'
                    AND p.payment_status IN ('pending', 'processing', 'requires_action'))
    """
)
_ATTEMPTS_MANY = text(
    "SELECT v.id, (SELECT count(*) FROM payments WHERE invoice_id = v.id AND type = 'provider') AS attempts "
    "FROM unnest(CAST(:invoice_ids AS uuid[])) AS v(id)"
)
# new provider attempts, several at once (what `_INSERT` does for one; the same partial unique index answers
# "already there" for an invoice with a live attempt)
_ATTEMPT_COLUMNS = {"id": "uuid", "organization_id": "uuid", "invoice_id": "uuid", "customer_id": "uuid",
                    "external_customer_id": "text", "type": "text", "amount_cents": "bigint", "currency": "text",
                    "payment_status": "text", "provider_status": "text", "reference": "text",
                    "idempotency_key": "text", "payment_provider_id": "uuid", "payment_provider_code": "text",
                    "payment_provider_type": "text"}
_INSERT_ATTEMPTS = text(
    f"""
    INSERT INTO payments ({", ".join(_ATTEMPT_COLUMNS)})
    SELECT * FROM unnest({", ".join(f"CAST(:{c} AS {t}[])" for c, t in _ATTEMPT_COLUMNS.items())})
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)
_BY_IDS = text(f"{_SELECT} WHERE p.id = ANY(CAST(:ids AS uuid[]))")
_DEFER_LOOKUP = text("UPDATE payments SET next_attempt_at = :next_at WHERE id = :id")


async def unsettled_due(session: AsyncSession, now: datetime, *, settled_before: datetime, limit: int,
                        not_parked) -> list[RowMapping]:
    """Provider payments left `processing|requires_action` since before `settled_before` whose next lookup is due
    (and that are not parked)."""
    statement = select(text("payments.*")).select_from(text("payments")).where(
        text("payments.payment_status IN ('processing', 'requires_action') AND payments.type = 'provider' "
             "AND payments.updated_at <= :settled_before "
             "AND (payments.next_attempt_at IS NULL OR payments.next_attempt_at <= :now)"),
        not_parked).order_by(text("payments.next_attempt_at NULLS FIRST, payments.updated_at")).limit(limit)
    return list((await session.execute(statement, {"settled_before": settled_before, "now": now})).mappings().all())


async def live_attempt(session: AsyncSession, invoice_id: uuid.UUID) -> bool:
    return bool((await session.execute(_LIVE_ATTEMPT, {"invoice_id": invoice_id})).scalar_one())


async def live_attempts(session: AsyncSession, invoice_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these invoices have a charge under way (`live_attempt` for several)."""
    return set((await session.execute(_LIVE_ATTEMPTS, {"invoice_ids": invoice_ids})).scalars())


async def provider_attempts_many(session: AsyncSession, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = await session.execute(_ATTEMPTS_MANY, {"invoice_ids": invoice_ids})
    return {row.id: int(row.attempts) for row in rows}


async def insert_attempts(session: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """`insert` for several provider attempts (each with the `_ATTEMPT_COLUMNS`); the ids inserted."""
    if not rows:
        return set()
    binds = {column: [row[column] for row in rows] for column in _ATTEMPT_COLUMNS}
    return set((await session.execute(_INSERT_ATTEMPTS, binds)).scalars())


async def by_ids(session: AsyncSession, payment_ids: list[uuid.UUID]) -> dict[uuid.UUID, RowMapping]:
    """`by_id` for several payments (the caller checks organizations), by id."""
    return {row["id"]: row for row in (await session.execute(_BY_IDS, {"ids": payment_ids})).mappings()}


async def defer_lookup(session: AsyncSession, payment_id: uuid.UUID, next_at: datetime) -> None:
    await session.execute(_DEFER_LOOKUP, {"id": payment_id, "next_at": next_at})


async def insert(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    row = (await session.execute(_INSERT, {c: values.get(c) for c in _COLUMNS})).first()
    return row[0] if row else None


async def provider_attempts(session: AsyncSession, invoice_id: uuid.UUID) -> int:
    return int((await session.execute(_ATTEMPTS, {"invoice_id": invoice_id})).scalar_one())


async def by_id(session: AsyncSession, organization_id: uuid.UUID, payment_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_BY_ID, {"org": organization_id, "id": payment_id})).mappings().first()


async def lock(session: AsyncSession, payment_id: uuid.UUID, organization_id: uuid.UUID | None = None
               ) -> RowMapping | None:
    if organization_id is None:
        return (await session.execute(_LOCK_ANY, {"id": payment_id})).mappings().first()
    return (await session.execute(_LOCK, {"org": organization_id, "id": payment_id})).mappings().first()


async def lock_by_provider_payment_id(session: AsyncSession, provider_id: uuid.UUID,
                                      provider_payment_id: str) -> RowMapping | None:
    return (await session.execute(_BY_PROVIDER_PAYMENT_ID, {"provider_id": provider_id, "ppid": provider_payment_id})
            ).mappings().first()


async def lock_by_provider_order_id(session: AsyncSession, provider_id: uuid.UUID,
                                    provider_order_id: str) -> RowMapping | None:
    return (await session.execute(_BY_PROVIDER_ORDER_ID, {"provider_id": provider_id, "oid": provider_order_id})
            ).mappings().first()


async def set_provider_order_id(session: AsyncSession, provider_id: uuid.UUID, provider_payment_id: str,
                                provider_order_id: str) -> None:
    """The provider's order that paid the payment, written once (the first order named stays)."""
    await session.execute(_SET_PROVIDER_ORDER_ID, {"provider_id": provider_id, "ppid": provider_payment_id,
                                                   "oid": provider_order_id})


async def claim_due(session: AsyncSession, now: datetime, lease_until: datetime, limit: int,
                    provider_limits: Mapping[str, int] | None = None,
                    default_limit: int = UNBOUNDED) -> list[RowMapping]:
    """At most `limit` due attempts leased until `lease_until`, oldest first, each connection's only while it has
    fewer than its type's `provider_limits` (else `default_limit`) leased. The charger passes the settings'
    limits; without them (a test staging a claim by hand) connections are unbounded."""
    limits = dict(provider_limits or {})
    return list((await session.execute(_CLAIM_DUE, {
        "now": now, "lease_until": lease_until, "limit": limit, "types": list(limits), "limits": list(limits.values()),
        "default_limit": default_limit})).mappings().all())


async def mark_called(session: AsyncSession, payment_id: uuid.UUID, lease_until: datetime, *, amount_cents: int,
                      provider_customer_id: str) -> bool:
    return (await session.execute(_MARK_CALLED, {
        "id": payment_id, "lease_until": lease_until, "amount_cents": amount_cents,
        "provider_customer_id": provider_customer_id})).first() is not None


async def mark_called_many(session: AsyncSession, lease_until: datetime,
                           calls: list[tuple[uuid.UUID, int, str]]) -> set[uuid.UUID]:
    """`mark_called` for several attempts claimed with one lease: (id, amount, provider customer id) each; the
    ids taken."""
    if not calls:
        return set()
    ids, amounts, customers = (list(column) for column in zip(*calls, strict=True))
    rows = await session.execute(_MARK_CALLED_MANY, {"ids": ids, "amounts": amounts, "customers": customers,
                                                     "lease_until": lease_until})
    return {row[0] for row in rows}


async def lock_many(session: AsyncSession, payment_ids: list[uuid.UUID]) -> dict[uuid.UUID, RowMapping]:
    """Several payments under lock, taken in id order (two batches cannot deadlock on each other)."""
    return {row["id"]: row for row in (await session.execute(_LOCK_MANY, {"ids": payment_ids})).mappings()}


async def release(session: AsyncSession, payment_id: uuid.UUID, lease_until: datetime,
                  next_attempt_at: datetime | None) -> None:
    await session.execute(_RELEASE, {"id": payment_id, "lease_until": lease_until,
                                     "next_attempt_at": next_attempt_at})


async def set_outcome(session: AsyncSession, payment_id: uuid.UUID, values: dict[str, Any]) -> None:
    assignments = ", ".join(f"{column} = CAST(:{column} AS jsonb)" if column == "next_action" else
                            f"{column} = :{column}" for column in values)
    statement = text(f"UPDATE payments SET {assignments}, lease_until = NULL, updated_at = now() WHERE id = :id")
    await session.execute(statement, {**values, "id": payment_id})


async def set_outcomes(session: AsyncSession, outcomes: list[dict[str, Any]]) -> dict[uuid.UUID, RowMapping]:
    """`set_outcome` for several locked payments at once: each dict holds `id` and every `OUTCOME_COLUMNS`
    (`next_action` as JSON text); the rows after the change, as `by_id` reads them, by id."""
    if not outcomes:
        return {}
    binds = {column: [outcome[column] for outcome in outcomes] for column in ("id", *OUTCOME_COLUMNS)}
    return {row["id"]: row for row in (await session.execute(_SET_OUTCOMES, binds)).mappings()}


async def live_attempts_for_provider(session: AsyncSession, provider_id: uuid.UUID) -> bool:
    return bool((await session.execute(_LIVE_FOR_PROVIDER, {"provider_id": provider_id})).scalar_one())


async def uncalled_live(session: AsyncSession, invoice_id: uuid.UUID) -> list[RowMapping]:
    return list((await session.execute(_UNCALLED_LIVE, {"invoice_id": invoice_id})).mappings().all())


async def list_page(session: AsyncSession, organization_id: uuid.UUID, *, external_customer_id: str | None,
                    invoice_id: uuid.UUID | None, params: PageParams,
                    customer_id: uuid.UUID | None = None) -> tuple[list[RowMapping], PaginationMeta]:
    where = ["p.organization_id = :org"]
    binds: dict[str, Any] = {"org": organization_id}
    if customer_id is not None:
        where.append("p.customer_id = :customer_id")
        binds["customer_id"] = customer_id
    if external_customer_id is not None:
        where.append("p.external_customer_id = :external_customer_id")
        binds["external_customer_id"] = external_customer_id
    if invoice_id is not None:
        where.append("p.invoice_id = :invoice_id")
        binds["invoice_id"] = invoice_id
    condition = " AND ".join(where)
    total = (await session.execute(text(f"SELECT count(*) FROM payments p WHERE {condition}"), binds)).scalar_one()
    rows = (await session.execute(text(
        f"{_SELECT} WHERE {condition} ORDER BY p.created_at DESC, p.id DESC LIMIT :limit OFFSET :offset"),
        {**binds, "limit": params.per_page, "offset": params.offset})).mappings().all()
    return list(rows), params.meta(total)
