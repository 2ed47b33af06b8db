"""SQL of unit credits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta
from wallets.unit_credits.models import UnitCreditApplication, UnitCreditEntry, UnitCreditGrant

_GRANTS = UnitCreditGrant.__table__


async def insert_grant(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(_GRANTS).values(**values))


async def insert_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(UnitCreditEntry.__table__), list(rows))


async def grant_by_id(session: AsyncSession, organization_id: uuid.UUID, grant_id: uuid.UUID, *,
                      lock: bool = False) -> RowMapping | None:
    statement = select(_GRANTS).where(_GRANTS.c.organization_id == organization_id, _GRANTS.c.id == grant_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).mappings().first()


async def lock_live_grants(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                           metric_code: str, now: datetime) -> list[RowMapping]:
    """The customer's active, unexpired grants of a metric with units left, locked (id order: no deadlock)."""
    statement = select(_GRANTS).where(
        _GRANTS.c.organization_id == organization_id, _GRANTS.c.customer_id == customer_id,
        _GRANTS.c.billable_metric_code == metric_code, _GRANTS.c.status == "active",
        (_GRANTS.c.expiration_at.is_(None)) | (_GRANTS.c.expiration_at > now),
    ).order_by(_GRANTS.c.id).with_for_update()
    return list((await session.execute(statement)).mappings().all())


def grants_of(organization_id: uuid.UUID, customer_id: uuid.UUID, metric_code: str | None,
              status: str | None) -> Select:
    statement = select(_GRANTS).where(_GRANTS.c.organization_id == organization_id,
                                      _GRANTS.c.customer_id == customer_id)
    if metric_code is not None:
        statement = statement.where(_GRANTS.c.billable_metric_code == metric_code)
    if status is not None:
        statement = statement.where(_GRANTS.c.status == status)
    return statement.order_by(_GRANTS.c.created_at.desc(), _GRANTS.c.id)


async def page_grants(session: AsyncSession, statement: Select, params: PageParams) -> tuple[list[RowMapping],
                                                                                         PaginationMeta]:
    count = (await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))
             ).scalar_one()
    rows = (await session.execute(statement.limit(params.per_page).offset(params.offset))).mappings().all()
    return list(rows), params.meta(count)


async def end_grant(session: AsyncSession, grant_id: uuid.UUID, status: str, reason: str | None,
                    now: datetime) -> RowMapping:
    return (await session.execute(update(_GRANTS).where(_GRANTS.c.id == grant_id).values(
        status=status, ended_at=now, end_reason=reason).returning(*_GRANTS.c))).mappings().one()


_CLAIM_APPLICATION = text(
    """
    INSERT INTO unit_credit_applications (organization_id, invoice_id, billable_metric_code, requested_units,
                                          applied_units, created_at)
    VALUES (:org, :invoice, :metric, :requested, 0, :now)
    ON CONFLICT DO NOTHING RETURNING invoice_id
    """
)


async def claim_application(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID,
                            metric_code: str, requested, now: datetime) -> bool:
    """True if this call made the claim (else the invoice's use of the metric was recorded before)."""
    return (await session.execute(_CLAIM_APPLICATION, {
        "org": organization_id, "invoice": invoice_id, "metric": metric_code, "requested": requested, "now": now,
    })).first() is not None


async def application(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID,
                      metric_code: str, *, lock: bool = False) -> UnitCreditApplication | None:
    statement = select(UnitCreditApplication).where(
        UnitCreditApplication.organization_id == organization_id, UnitCreditApplication.invoice_id == invoice_id,
        UnitCreditApplication.billable_metric_code == metric_code)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def applications_of_invoice(session: AsyncSession, organization_id: uuid.UUID,
                                  invoice_id: uuid.UUID) -> list[UnitCreditApplication]:
    return list((await session.execute(select(UnitCreditApplication).where(
        UnitCreditApplication.organization_id == organization_id, UnitCreditApplication.invoice_id == invoice_id,
    ).order_by(UnitCreditApplication.billable_metric_code).with_for_update())).scalars())


_CONSUMED_PER_GRANT = text(
    """
    SELECT grant_id, -sum(units) AS units FROM unit_credit_entries
    WHERE organization_id = :org AND invoice_id = :invoice AND account = 'grant'
      AND grant_id IN (SELECT id FROM unit_credit_grants WHERE billable_metric_code = :metric)
    GROUP BY grant_id HAVING sum(units) < 0 ORDER BY grant_id
    """
)


async def consumed_per_grant(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID,
                             metric_code: str) -> list[RowMapping]:
    """What an invoice still holds of each grant of a metric (consumed minus given back)."""
    return list((await session.execute(_CONSUMED_PER_GRANT, {"org": organization_id, "invoice": invoice_id,
                                                             "metric": metric_code})).mappings().all())


_EXPIRING = text(
    """
    SELECT id, organization_id FROM unit_credit_grants
    WHERE status = 'active' AND expiration_at <= :now ORDER BY expiration_at, id LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)


async def expiring(session: AsyncSession, now: datetime, limit: int) -> list[RowMapping]:
    return list((await session.execute(_EXPIRING, {"now": now, "limit": limit})).mappings().all())
