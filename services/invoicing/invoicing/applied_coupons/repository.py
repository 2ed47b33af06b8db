"""SQL of applied coupons."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.applied_coupons.models import AppliedCoupon


async def active_for(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                     coupon_id: uuid.UUID) -> AppliedCoupon | None:
    return (await session.execute(select(AppliedCoupon).where(
        AppliedCoupon.organization_id == organization_id, AppliedCoupon.customer_id == customer_id,
        AppliedCoupon.coupon_id == coupon_id, AppliedCoupon.status == "active").limit(1))).scalar_one_or_none()


async def get(session: AsyncSession, organization_id: uuid.UUID, applied_coupon_id: uuid.UUID, *,
              lock: bool = False) -> AppliedCoupon | None:
    statement = select(AppliedCoupon).where(AppliedCoupon.organization_id == organization_id,
                                            AppliedCoupon.id == applied_coupon_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def page(session: AsyncSession, organization_id: uuid.UUID, *, external_customer_id: str | None,
               customer_id: uuid.UUID | None = None, status: str | None, coupon_codes: Sequence[str], limit: int,
               offset: int) -> tuple[list[AppliedCoupon], int]:
    statement = select(AppliedCoupon).where(AppliedCoupon.organization_id == organization_id)
    if external_customer_id is not None:
        statement = statement.where(AppliedCoupon.external_customer_id == external_customer_id)
    if customer_id is not None:
        statement = statement.where(AppliedCoupon.customer_id == customer_id)
    if status is not None:
        statement = statement.where(AppliedCoupon.status == status)
    if coupon_codes:
        statement = statement.where(AppliedCoupon.coupon_code.in_(list(coupon_codes)))
    total = (await session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    rows = (await session.execute(statement.order_by(AppliedCoupon.created_at.desc(), AppliedCoupon.id.desc())
                                  .limit(limit).offset(offset))).scalars().all()
    return list(rows), total


async def statuses(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                   coupon_id: uuid.UUID) -> Sequence[str]:
    """The statuses of every application of this coupon to this customer."""
    return (await session.execute(select(AppliedCoupon.status).where(
        AppliedCoupon.organization_id == organization_id, AppliedCoupon.customer_id == customer_id,
        AppliedCoupon.coupon_id == coupon_id))).scalars().all()
