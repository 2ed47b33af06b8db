"""Applying coupons to customers (Lago's rules) and terminating them.

- The customer and the coupon come from the projections, or from their owners when the projections do not
  hold them yet (`projections/fresh.py`). The coupon must not be terminated, deleted or expired.
- A coupon that is not `reusable` is applied at most once per customer (active or not); a reusable one
  once at a time (active).
- The request may override `amount_cents`/`amount_currency` (fixed), `percentage_rate` (percentage),
  `frequency` and `frequency_duration`. A fixed amount in another currency than the customer's is refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.applied_coupons import repository
from invoicing.applied_coupons.errors import (
    AppliedCouponAlreadyTerminated,
    AppliedCouponNotFound,
    CouponNotFound,
    CustomerNotFound,
)
from invoicing.applied_coupons.models import AppliedCoupon
from invoicing.applied_coupons.schemas import AppliedCoupon as AppliedCouponObject
from invoicing.applied_coupons.schemas import AppliedCouponInput
from invoicing.projections import fresh
from invoicing.runtime import InvoicingRuntime
from invora.auth.deps import ensure_customer_access
from invora.auth.principal import Principal
from invora.errors import ValidationFailed
from invora.ids import uuid7
from invora.service_client import ServiceClient


def render(row: AppliedCoupon) -> AppliedCouponObject:
    return AppliedCouponObject(
        lago_id=row.id, lago_coupon_id=row.coupon_id, coupon_code=row.coupon_code, coupon_name=row.coupon_name,
        lago_customer_id=row.customer_id, external_customer_id=row.external_customer_id, status=row.status,
        amount_cents=row.amount_cents, amount_cents_remaining=row.amount_cents_remaining,
        amount_currency=row.amount_currency,
        percentage_rate=None if row.percentage_rate is None else format(Decimal(row.percentage_rate).normalize(), "f"),
        frequency=row.frequency, frequency_duration=row.frequency_duration,
        frequency_duration_remaining=row.frequency_duration_remaining, expiration_at=row.expiration_at,
        created_at=row.created_at, terminated_at=row.terminated_at)


async def apply(session: AsyncSession, runtime: InvoicingRuntime, organization_id: uuid.UUID,
                data: AppliedCouponInput, now: datetime) -> AppliedCoupon:
    # a customer or coupon created a moment ago may not have reached the projections: asked of its owner
    customer = await fresh.customer(session, runtime.subscriptions, organization_id, data.external_customer_id)
    if customer is None or customer.deleted_at is not None:
        raise CustomerNotFound()
    found = await fresh.coupon(session, runtime.catalog, organization_id, data.coupon_code)
    if found is None or found.deleted:
        raise CouponNotFound()
    coupon = found.body
    expiration = coupon.get("expiration_at")
    if coupon.get("terminated_at") or (expiration and datetime.fromisoformat(expiration) <= now):
        raise ValidationFailed(coupon_code=["coupon_is_not_active"])
    earlier = await repository.statuses(session, organization_id, customer.id, found.id)
    if "active" in earlier or (earlier and not coupon.get("reusable", True)):
        raise ValidationFailed(coupon_code=["coupon_already_applied"])
    frequency = data.frequency or coupon["frequency"]
    duration = data.frequency_duration if data.frequency_duration is not None else coupon.get("frequency_duration")
    if frequency == "recurring" and not duration:
        raise ValidationFailed(frequency_duration=["value_is_mandatory"])
    amount = currency = rate = None
    if coupon["coupon_type"] == "fixed_amount":
        amount = data.amount_cents if data.amount_cents is not None else coupon.get("amount_cents")
        currency = data.amount_currency or coupon.get("amount_currency")
        if customer.currency and currency and currency != customer.currency:
            raise ValidationFailed(currency=["currencies_does_not_match"])
    else:
        rate = data.percentage_rate if data.percentage_rate is not None else Decimal(str(coupon["percentage_rate"]))
    row = AppliedCoupon(
        id=uuid7(), organization_id=organization_id, coupon_id=found.id, coupon_code=found.code,
        coupon_name=coupon["name"], customer_id=customer.id, external_customer_id=customer.external_id,
        coupon_type=coupon["coupon_type"], amount_cents=amount, amount_cents_remaining=amount if frequency == "once"
        else None, amount_currency=currency, percentage_rate=rate, frequency=frequency,
        frequency_duration=duration if frequency == "recurring" else None,
        frequency_duration_remaining=duration if frequency == "recurring" else None,
        expiration_at=datetime.fromisoformat(expiration) if expiration else None,
        plan_codes=coupon.get("plan_codes") or [] if coupon.get("limited_plans") else [],
        billable_metric_codes=coupon.get("billable_metric_codes") or [] if coupon.get(
            "limited_billable_metrics") else [],
        status="active", created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    return row


async def terminate(session: AsyncSession, principal: Principal, external_customer_id: str,
                    applied_coupon_id: uuid.UUID, now: datetime) -> AppliedCoupon:
    row = await repository.get(session, principal.organization_id, applied_coupon_id, lock=True)
    ensure_customer_access(principal, row.customer_id if row is not None else None)
    if row is None or row.external_customer_id != external_customer_id:
        raise AppliedCouponNotFound()
    if row.status == "terminated":
        raise AppliedCouponAlreadyTerminated("the applied coupon is already terminated")
    row.status, row.terminated_at, row.updated_at = "terminated", now, now
    await session.flush()
    return row


async def customer_page(session: AsyncSession, subscriptions: ServiceClient, principal: Principal,
                        external_customer_id: str, *,
                        status: str | None, coupon_codes: list[str], limit: int,
                        offset: int) -> tuple[list[AppliedCoupon], int]:
    """`GET /customers/{external_customer_id}/applied_coupons`: the customer must exist (not deleted) in the
    caller's organization (else 404 `customer_not_found`; one created a moment ago, whose event has not arrived,
    is asked of subscriptions); a tenant key only for its own customer (403)."""
    customer = await fresh.customer(session, subscriptions, principal.organization_id, external_customer_id)
    if customer is None or customer.deleted_at is not None:
        raise CustomerNotFound()
    ensure_customer_access(principal, customer.id)
    return await repository.page(session, principal.organization_id, external_customer_id=None,
                                 customer_id=customer.id, status=status, coupon_codes=coupon_codes, limit=limit,
                                 offset=offset)
