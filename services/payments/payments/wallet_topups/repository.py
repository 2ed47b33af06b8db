"""SQL of wallet top-up charges."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

_INSERT = text(
    """
    INSERT INTO wallet_topup_charges (id, organization_id, wallet_transaction_id, wallet_id, customer_id,
                                      amount_cents, currency, description, payment_method_id, idempotency_key,
                                      manual)
    VALUES (:id, :org, :transaction_id, :wallet_id, :customer_id, :amount_cents, :currency, :description,
            :payment_method_id, :idempotency_key, :manual)
    ON CONFLICT ON CONSTRAINT uq_wallet_topup_charges_transaction DO NOTHING
    RETURNING id
    """
)
_CLAIM_DUE = text(
    """
    UPDATE wallet_topup_charges SET lease_until = :lease_until
    WHERE id IN (
        SELECT id FROM wallet_topup_charges
        WHERE status = 'pending' AND NOT manual AND (lease_until IS NULL OR lease_until < :now)
          AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
        ORDER BY created_at LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    RETURNING id, lease_until
    """
)
_LOCK = text("SELECT * FROM wallet_topup_charges WHERE id = :id FOR UPDATE")
_BY_TRANSACTION = text(
    "SELECT * FROM wallet_topup_charges WHERE organization_id = :org AND wallet_transaction_id = :transaction_id"
)
_LOCK_BY_TRANSACTION = text(
    "SELECT * FROM wallet_topup_charges WHERE organization_id = :org AND wallet_transaction_id = :transaction_id "
    "FOR UPDATE"
)
_LOCK_IN_ORGANIZATION = text("SELECT * FROM wallet_topup_charges WHERE id = :id AND organization_id = :org FOR UPDATE")
# a manual top-up's page: `hosted_at` is set (and the URL cleared) before the provider is asked, so a second
# request meanwhile sees a page being made; the URL is written once the provider answered
_BEGIN_PAGE = text(
    """
    UPDATE wallet_topup_charges SET hosted_at = :now, hosted_url = NULL, payment_provider_code = :code,
                                    updated_at = now()
    WHERE id = :id AND status = 'pending' AND manual
    """
)
_PAGE_MADE = text(
    """
    UPDATE wallet_topup_charges SET hosted_url = :url, provider_customer_id = :provider_customer_id,
                                    updated_at = now()
    WHERE id = :id AND hosted_at = :hosted_at AND hosted_url IS NULL
    """
)
_PAGE_FAILED = text(
    "UPDATE wallet_topup_charges SET hosted_at = NULL, updated_at = now() "
    "WHERE id = :id AND hosted_at = :hosted_at AND hosted_url IS NULL"
)
# only the claimer still holding its lease may call the provider
_MARK_CALLED = text(
    """
    UPDATE wallet_topup_charges SET calls = calls + 1, provider_customer_id = :provider_customer_id,
                                    payment_provider_code = :code, updated_at = now()
    WHERE id = :id AND status = 'pending' AND NOT manual AND lease_until = :lease_until
    RETURNING calls
    """
)
_RELEASE = text(
    """
    UPDATE wallet_topup_charges SET lease_until = NULL, next_attempt_at = :next_attempt_at, updated_at = now()
    WHERE id = :id AND lease_until = :lease_until
    """
)
# an outcome is recorded once: only a charge still pending moves
_SETTLE = text(
    """
    UPDATE wallet_topup_charges SET status = :status, provider_payment_id = :provider_payment_id,
        failure = CAST(:failure AS jsonb), paid_at = :paid_at, lease_until = NULL, updated_at = now()
    WHERE id = :id AND status = 'pending'
    RETURNING *
    """
)


async def insert(session: AsyncSession, values: dict[str, Any]) -> bool:
    """True if recorded now (False: this top-up was already asked for)."""
    return (await session.execute(_INSERT, values)).first() is not None


async def claim_due(session: AsyncSession, now: datetime, lease_until: datetime, limit: int) -> list[RowMapping]:
    return list((await session.execute(_CLAIM_DUE, {"now": now, "lease_until": lease_until, "limit": limit})
                 ).mappings().all())


async def lock(session: AsyncSession, charge_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_LOCK, {"id": charge_id})).mappings().first()


async def by_transaction(session: AsyncSession, organization_id: uuid.UUID,
                         transaction_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_BY_TRANSACTION, {"org": organization_id, "transaction_id": transaction_id})
            ).mappings().first()


async def lock_by_transaction(session: AsyncSession, organization_id: uuid.UUID,
                              transaction_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_LOCK_BY_TRANSACTION, {"org": organization_id, "transaction_id": transaction_id})
            ).mappings().first()


async def lock_in_organization(session: AsyncSession, organization_id: uuid.UUID,
                               charge_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_LOCK_IN_ORGANIZATION, {"id": charge_id, "org": organization_id})
            ).mappings().first()


async def begin_page(session: AsyncSession, charge_id: uuid.UUID, now: datetime, code: str) -> None:
    await session.execute(_BEGIN_PAGE, {"id": charge_id, "now": now, "code": code})


async def page_made(session: AsyncSession, charge_id: uuid.UUID, hosted_at: datetime, url: str,
                    provider_customer_id: str) -> bool:
    return (await session.execute(_PAGE_MADE, {"id": charge_id, "hosted_at": hosted_at, "url": url,
                                               "provider_customer_id": provider_customer_id})).rowcount == 1


async def page_failed(session: AsyncSession, charge_id: uuid.UUID, hosted_at: datetime) -> None:
    await session.execute(_PAGE_FAILED, {"id": charge_id, "hosted_at": hosted_at})


async def mark_called(session: AsyncSession, charge_id: uuid.UUID, lease_until: datetime, *,
                      provider_customer_id: str, code: str) -> bool:
    return (await session.execute(_MARK_CALLED, {"id": charge_id, "lease_until": lease_until,
                                                 "provider_customer_id": provider_customer_id, "code": code})
            ).first() is not None


async def release(session: AsyncSession, charge_id: uuid.UUID, lease_until: datetime,
                  next_attempt_at: datetime) -> None:
    await session.execute(_RELEASE, {"id": charge_id, "lease_until": lease_until,
                                     "next_attempt_at": next_attempt_at})


async def settle(session: AsyncSession, charge_id: uuid.UUID, *, status: str, provider_payment_id: str | None,
                 failure: dict | None, paid_at: datetime | None) -> RowMapping | None:
    """The charge as recorded now, or None if it was no longer pending (an outcome recorded before)."""
    return (await session.execute(_SETTLE, {
        "id": charge_id, "status": status, "provider_payment_id": provider_payment_id,
        "failure": json.dumps(failure) if failure is not None else None, "paid_at": paid_at})).mappings().first()
