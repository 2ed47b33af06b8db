"""The SQL of entitlements: plans' entitlements (projected), customer overrides, grace periods, and the one
read-only statement the entitlement check makes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from invora.web.pagination import PageParams, PaginationMeta, paginate
from subscriptions.access.models import CustomerEntitlementOverride, GracePeriod
from subscriptions.subscriptions.models import PlanEntitlementsProjection


async def plan_entitlements(session: AsyncSession, organization_id: uuid.UUID,
                            plan_id: uuid.UUID) -> list[dict[str, Any]]:
    stored = (await session.execute(select(PlanEntitlementsProjection.entitlements).where(
        PlanEntitlementsProjection.organization_id == organization_id,
        PlanEntitlementsProjection.plan_id == plan_id,
    ))).scalar_one_or_none()
    return list(stored or [])


async def override_row(session: AsyncSession, customer_id: uuid.UUID) -> CustomerEntitlementOverride | None:
    """The customer's overrides, locked."""
    return (await session.execute(select(CustomerEntitlementOverride).where(
        CustomerEntitlementOverride.customer_id == customer_id).with_for_update())).scalar_one_or_none()


async def grace_periods(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID, now: datetime,
                        include_expired: bool, page: PageParams) -> tuple[list[GracePeriod], PaginationMeta]:
    statement = select(GracePeriod).where(GracePeriod.organization_id == organization_id,
                                          GracePeriod.customer_id == customer_id)
    if not include_expired:
        statement = statement.where(GracePeriod.revoked_at.is_(None), GracePeriod.expires_at > now)
    return await paginate(session, statement.order_by(GracePeriod.expires_at, GracePeriod.id), page)


async def grace_period(session: AsyncSession, customer_id: uuid.UUID, grace_id: uuid.UUID) -> GracePeriod | None:
    """One of the customer's grace periods, locked."""
    return (await session.execute(select(GracePeriod).where(
        GracePeriod.id == grace_id, GracePeriod.customer_id == customer_id).with_for_update())).scalar_one_or_none()


CHECK_INPUTS = text("""
SELECT c.id, c.billing_state,
       COALESCE((SELECT json_agg(json_build_array(pe.entitlements, s.entitlement_overrides, s.removed_entitlements))
                 FROM subscriptions s
                 LEFT JOIN plan_entitlements pe ON pe.organization_id = s.organization_id AND pe.plan_id = s.plan_id
                 WHERE s.customer_id = c.id AND s.status = 'active'), '[]'::json) AS subscriptions,
       o.quotas, o.features,
       COALESCE((SELECT json_agg(json_build_array(g.metric, g.extra_allowance, g.starts_at, g.expires_at))
                 FROM grace_periods g
                 WHERE g.customer_id = c.id AND g.revoked_at IS NULL AND g.expires_at > :now), '[]'::json) AS grace
FROM customers c
LEFT JOIN customer_entitlement_overrides o ON o.customer_id = c.id
WHERE c.organization_id = :org AND c.external_id = :external_id AND c.deleted_at IS NULL
""")


async def check_inputs(engine: AsyncEngine, organization_id: uuid.UUID, external_customer_id: str,
                       now: datetime) -> Row[Any] | None:
    """Everything the entitlement check reads about a live customer, in one statement."""
    # a plain connection, no session or transaction bookkeeping: one read-only statement
    async with engine.connect() as connection:
        return (await connection.execute(CHECK_INPUTS, {"org": organization_id, "external_id": external_customer_id,
                                                        "now": now})).one_or_none()
