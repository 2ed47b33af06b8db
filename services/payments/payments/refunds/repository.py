"""SQL of refunds and audit entries."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

_COLUMNS = ("id", "organization_id", "payment_id", "invoice_id", "amount_cents", "currency", "reason", "status",
            "idempotency_key", "requested_by")
_INSERT = text(f"INSERT INTO refunds ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})")
_BY_KEY = text("SELECT * FROM refunds WHERE organization_id = :org AND idempotency_key = :key")
_SELECT = """
    SELECT r.*, p.customer_id, p.external_customer_id, p.payment_provider_code, p.provider_payment_id,
           p.payment_provider_id, p.type AS payment_type
    FROM refunds r JOIN payments p ON p.id = r.payment_id
"""
_BY_ID = text(f"{_SELECT} WHERE r.organization_id = :org AND r.id = :id")
_LOCK = text("SELECT * FROM refunds WHERE id = :id FOR UPDATE")
_BY_PROVIDER_ID = text(
    "SELECT r.* FROM refunds r JOIN payments p ON p.id = r.payment_id "
    "WHERE p.payment_provider_id = :provider_id AND r.provider_refund_id = :rid FOR UPDATE OF r"
)
_REFUNDED = text("SELECT COALESCE(SUM(amount_cents), 0) FROM refunds WHERE payment_id = :payment_id "
                 "AND status <> 'failed'")
_CLAIM_DUE = text(
    """
    UPDATE refunds SET lease_until = :lease_until
    WHERE id IN (SELECT id FROM refunds WHERE status = 'pending' AND provider_refund_id IS NULL
                   AND (lease_until IS NULL OR lease_until < :now)
                 ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING id, lease_until
    """
)
# pending refunds the provider answered (its id known) and left unsettled since before :settled_before, whose next
# look-up is due: each is taken with `lease_until` set to its next look-up, so two reconcilers never ask twice at once
# (the refunder claims only refunds without a provider id: the two never take the same row)
_CLAIM_UNSETTLED = text(
    """
    UPDATE refunds r SET lease_until = :next_lookup
    FROM payments p
    WHERE p.id = r.payment_id AND r.id IN (
        SELECT id FROM refunds WHERE status = 'pending' AND provider_refund_id IS NOT NULL
          AND updated_at <= :settled_before AND (lease_until IS NULL OR lease_until <= :now)
        ORDER BY lease_until NULLS FIRST, updated_at LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING r.id, r.organization_id, r.provider_refund_id, p.payment_provider_id, p.provider_payment_id
    """
)
_MARK_CALLED = text("UPDATE refunds SET calls = calls + 1, updated_at = now() "
                    "WHERE id = :id AND status = 'pending' AND lease_until = :lease_until RETURNING calls")
_RELEASE = text("UPDATE refunds SET lease_until = :next WHERE id = :id AND lease_until = :lease_until")
_OUTCOME = text(
    """
    UPDATE refunds SET status = :status, provider_refund_id = COALESCE(provider_refund_id, :rid),
                       failure_message = :failure_message, lease_until = NULL, updated_at = now()
    WHERE id = :id
    """
)
_AUDIT = text(
    """
    INSERT INTO audit_entries (id, organization_id, actor, action, subject_type, subject_id, detail)
    VALUES (:id, :org, :actor, :action, :subject_type, :subject_id, CAST(:detail AS jsonb))
    """
)
_AUDIT_FOR = text("SELECT * FROM audit_entries WHERE organization_id = :org AND subject_id = :subject_id "
                  "ORDER BY created_at, id")


async def insert(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(_INSERT, {c: values[c] for c in _COLUMNS})


async def by_key(session: AsyncSession, organization_id: uuid.UUID, key: str) -> RowMapping | None:
    return (await session.execute(_BY_KEY, {"org": organization_id, "key": key})).mappings().first()


async def by_id(session: AsyncSession, organization_id: uuid.UUID, refund_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_BY_ID, {"org": organization_id, "id": refund_id})).mappings().first()


async def lock(session: AsyncSession, refund_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_LOCK, {"id": refund_id})).mappings().first()


async def lock_by_provider_id(session: AsyncSession, provider_id: uuid.UUID, provider_refund_id: str
                              ) -> RowMapping | None:
    return (await session.execute(_BY_PROVIDER_ID, {"provider_id": provider_id, "rid": provider_refund_id})
            ).mappings().first()


async def refunded_cents(session: AsyncSession, payment_id: uuid.UUID) -> int:
    return int((await session.execute(_REFUNDED, {"payment_id": payment_id})).scalar_one())


async def claim_due(session: AsyncSession, now: datetime, lease_until: datetime, limit: int) -> list[RowMapping]:
    return list((await session.execute(_CLAIM_DUE, {"now": now, "lease_until": lease_until, "limit": limit})
                 ).mappings().all())


async def claim_unsettled(session: AsyncSession, now: datetime, *, settled_before: datetime, next_lookup: datetime,
                          limit: int) -> list[RowMapping]:
    return list((await session.execute(_CLAIM_UNSETTLED, {
        "now": now, "settled_before": settled_before, "next_lookup": next_lookup, "limit": limit})).mappings().all())


async def mark_called(session: AsyncSession, refund_id: uuid.UUID, lease_until: datetime) -> bool:
    return (await session.execute(_MARK_CALLED, {"id": refund_id, "lease_until": lease_until})).first() is not None


async def release(session: AsyncSession, refund_id: uuid.UUID, lease_until: datetime, next_at: datetime) -> None:
    await session.execute(_RELEASE, {"id": refund_id, "lease_until": lease_until, "next": next_at})


async def set_outcome(session: AsyncSession, refund_id: uuid.UUID, *, status: str, provider_refund_id: str | None,
                      failure_message: str | None) -> None:
    await session.execute(_OUTCOME, {"id": refund_id, "status": status, "rid": provider_refund_id,
                                     "failure_message": failure_message})


async def audit(session: AsyncSession, *, id: uuid.UUID, organization_id: uuid.UUID, actor: str | None, action: str,
                subject_type: str, subject_id: uuid.UUID, detail: dict[str, Any]) -> None:
    await session.execute(_AUDIT, {"id": id, "org": organization_id, "actor": actor, "action": action,
                                   "subject_type": subject_type, "subject_id": subject_id,
                                   "detail": json.dumps(detail, default=str)})


async def audit_for(session: AsyncSession, organization_id: uuid.UUID, subject_id: uuid.UUID) -> list[RowMapping]:
    return list((await session.execute(_AUDIT_FOR, {"org": organization_id, "subject_id": subject_id})
                 ).mappings().all())
