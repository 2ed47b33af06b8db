"""The SQL of coupons (live ones: not soft-deleted) and of their targets (plans, billable metrics)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.billable_metrics.models import BillableMetric
from catalog.coupons.models import Coupon, CouponTarget
from catalog.plans.models import Plan
from invora.db import lookups
from invora.web.pagination import PageParams, PaginationMeta, paginate


def _live(organization_id: uuid.UUID) -> Select:
    return lookups.live(Coupon, organization_id)


async def find(session: AsyncSession, organization_id: uuid.UUID, code: str) -> Coupon | None:
    return await lookups.live_by_code(session, Coupon, organization_id, code)


async def page(session: AsyncSession, organization_id: uuid.UUID,
               params: PageParams) -> tuple[list[Coupon], PaginationMeta]:
    return await paginate(session, _live(organization_id).order_by(Coupon.created_at.desc(), Coupon.id.desc()),
                          params)


async def targets(session: AsyncSession, coupon_ids: list[uuid.UUID]) -> Sequence[Any]:
    """(coupon id, plan code, billable metric code) of each target of these coupons, in creation order."""
    return (await session.execute(
        select(CouponTarget.coupon_id, Plan.code, BillableMetric.code)
        .outerjoin(Plan, Plan.id == CouponTarget.plan_id)
        .outerjoin(BillableMetric, BillableMetric.id == CouponTarget.billable_metric_id)
        .where(CouponTarget.coupon_id.in_(coupon_ids))
        .order_by(CouponTarget.id)
    )).all()


async def delete_targets(session: AsyncSession, coupon_id: uuid.UUID) -> None:
    await session.execute(sql_delete(CouponTarget).where(CouponTarget.coupon_id == coupon_id))
