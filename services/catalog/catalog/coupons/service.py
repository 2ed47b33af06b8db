"""Coupons: discount definitions (applying them to customers is the subscriptions service's job).

Rules (Lago's): a `fixed_amount` coupon needs `amount_cents` (> 0) and `amount_currency`; a
`percentage` one a `percentage_rate` in ]0, 100]. `recurring` needs `frequency_duration` (billing
periods); `once` and `forever` carry none. `time_limit` needs an `expiration_at` in the future.
`applies_to` limits the coupon to plans or to billable metrics, never both (405
`only_one_limitation_type_per_coupon_allowed`). DELETE terminates and soft-deletes the coupon.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.billable_metrics import service as metrics
from catalog.billable_metrics.models import BillableMetric
from catalog.coupons import repository
from catalog.coupons.errors import CouponNotFound
from catalog.coupons.models import Coupon, CouponTarget
from catalog.coupons.repository import find as find
from catalog.coupons.schemas import AppliesTo, CouponCreateInput, CouponUpdateInput
from catalog.events import publish
from catalog.plans import repository as plan_repository
from catalog.plans.models import Plan
from invora.db.flush import flush_unique
from invora.errors import MethodNotAllowed, ValidationFailed
from invora.events.contracts import catalog as contracts
from invora.web.pagination import PageParams, PaginationMeta


async def to_objects(session: AsyncSession, coupons: Sequence[Coupon]) -> list[contracts.Coupon]:
    if not coupons:
        return []
    targets = await repository.targets(session, [c.id for c in coupons])
    plan_codes: dict[uuid.UUID, list[str]] = {}
    metric_codes: dict[uuid.UUID, list[str]] = {}
    for coupon_id, plan_code, metric_code in targets:
        if plan_code is not None:
            plan_codes.setdefault(coupon_id, []).append(plan_code)
        if metric_code is not None:
            metric_codes.setdefault(coupon_id, []).append(metric_code)
    return [
        contracts.Coupon(
            lago_id=c.id, name=c.name, code=c.code, description=c.description, coupon_type=c.coupon_type,
            amount_cents=c.amount_cents, amount_currency=c.amount_currency,
            percentage_rate=None if c.percentage_rate is None else format(c.percentage_rate.normalize(), "f"),
            reusable=c.reusable, limited_plans=bool(plan_codes.get(c.id)), plan_codes=plan_codes.get(c.id, []),
            limited_billable_metrics=bool(metric_codes.get(c.id)),
            billable_metric_codes=metric_codes.get(c.id, []), frequency=c.frequency,
            frequency_duration=c.frequency_duration, expiration=c.expiration, expiration_at=c.expiration_at,
            created_at=c.created_at, terminated_at=c.terminated_at,
        )
        for c in coupons
    ]


async def get(session: AsyncSession, organization_id: uuid.UUID, code: str) -> Coupon:
    coupon = await find(session, organization_id, code)
    if coupon is None:
        raise CouponNotFound()
    return coupon


async def to_object(session: AsyncSession, coupon: Coupon) -> contracts.Coupon:
    return (await to_objects(session, [coupon]))[0]


async def read(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.Coupon:
    return await to_object(session, await get(session, organization_id, code))


async def list_coupons(
    session: AsyncSession, organization_id: uuid.UUID, page: PageParams,
) -> tuple[list[contracts.Coupon], PaginationMeta]:
    rows, meta = await repository.page(session, organization_id, page)
    return await to_objects(session, rows), meta


def _rule_errors(coupon: Coupon) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if coupon.coupon_type == "fixed_amount":
        if coupon.amount_cents is None:
            errors["amount_cents"] = ["value_is_mandatory"]
        elif coupon.amount_cents <= 0:
            errors["amount_cents"] = ["value_is_out_of_range"]
        if coupon.amount_currency is None:
            errors["amount_currency"] = ["value_is_mandatory"]
    elif coupon.percentage_rate is None:
        errors["percentage_rate"] = ["value_is_mandatory"]
    if coupon.frequency == "recurring" and coupon.frequency_duration is None:
        errors["frequency_duration"] = ["value_is_mandatory"]
    if coupon.expiration == "time_limit":
        if coupon.expiration_at is None:
            errors["expiration_at"] = ["value_is_mandatory"]
        elif coupon.expiration_at <= datetime.now(UTC):
            errors["expiration_at"] = ["invalid_date"]
    return errors


def _normalise(coupon: Coupon) -> None:
    if coupon.coupon_type == "fixed_amount":
        coupon.percentage_rate = None
    else:
        coupon.amount_cents = coupon.amount_currency = None
    if coupon.frequency != "recurring":
        coupon.frequency_duration = None
    if coupon.expiration == "no_expiration":
        coupon.expiration_at = None


async def _resolve_targets(
    session: AsyncSession, organization_id: uuid.UUID, applies_to: AppliesTo, errors: dict[str, list[str]],
) -> tuple[list[Plan], list[BillableMetric]]:
    plan_codes = list(dict.fromkeys(applies_to.plan_codes or []))
    metric_codes = list(dict.fromkeys(applies_to.billable_metric_codes or []))
    if plan_codes and metric_codes:
        raise MethodNotAllowed(code="only_one_limitation_type_per_coupon_allowed")
    plans = await plan_repository.live_plans_by_codes(session, organization_id, set(plan_codes))
    found_metrics = await metrics.live_by_codes(session, organization_id, set(metric_codes))
    if any(code not in plans for code in plan_codes):
        errors["applies_to.plan_codes"] = ["plan_not_found"]
    if any(code not in found_metrics for code in metric_codes):
        errors["applies_to.billable_metric_codes"] = ["billable_metric_not_found"]
    return [plans[c] for c in plan_codes if c in plans], [found_metrics[c] for c in metric_codes if c in found_metrics]


def _targets(coupon: Coupon, plans: list[Plan], found_metrics: list[BillableMetric]) -> list[CouponTarget]:
    return ([CouponTarget(organization_id=coupon.organization_id, coupon_id=coupon.id, plan_id=p.id) for p in plans]
            + [CouponTarget(organization_id=coupon.organization_id, coupon_id=coupon.id, billable_metric_id=m.id)
               for m in found_metrics])


async def _publish(session: AsyncSession, verb: str, coupon: Coupon) -> contracts.Coupon:
    await session.refresh(coupon)
    result = await to_object(session, coupon)
    await publish(session, coupon.organization_id, f"coupon.{verb}", coupon.id, contracts.CouponEvent(coupon=result))
    return result


async def create(session: AsyncSession, organization_id: uuid.UUID, data: CouponCreateInput) -> contracts.Coupon:
    coupon = Coupon(
        organization_id=organization_id, code=data.code, name=data.name, description=data.description,
        coupon_type=data.coupon_type, amount_cents=data.amount_cents, amount_currency=data.amount_currency,
        percentage_rate=data.percentage_rate, reusable=True if data.reusable is None else data.reusable,
        frequency=data.frequency, frequency_duration=data.frequency_duration, expiration=data.expiration,
        expiration_at=data.expiration_at,
    )
    errors = _rule_errors(coupon)
    _normalise(coupon)
    plans, found_metrics = await _resolve_targets(session, organization_id, data.applies_to or AppliesTo(), errors)
    if await find(session, organization_id, data.code) is not None:
        errors["code"] = ["value_already_exist"]
    if errors:
        raise ValidationFailed(errors)
    session.add(coupon)
    await flush_unique(session)
    session.add_all(_targets(coupon, plans, found_metrics))
    await session.flush()
    return await _publish(session, "created", coupon)


async def update(
    session: AsyncSession, organization_id: uuid.UUID, code: str, data: CouponUpdateInput,
) -> contracts.Coupon:
    coupon = await get(session, organization_id, code)
    errors: dict[str, list[str]] = {}
    targets = None
    if data.applies_to is not None:
        targets = await _resolve_targets(session, organization_id, data.applies_to, errors)
    if data.code is not None and data.code != coupon.code and await find(session, organization_id,
                                                                          data.code) is not None:
        errors["code"] = ["value_already_exist"]
    with session.no_autoflush:
        for field in ("name", "code", "coupon_type", "frequency", "expiration", "reusable", "amount_cents",
                      "amount_currency", "percentage_rate", "frequency_duration", "expiration_at"):
            if getattr(data, field) is not None:
                setattr(coupon, field, getattr(data, field))
        if data.given("description"):
            coupon.description = data.description
        for field, codes in _rule_errors(coupon).items():
            errors.setdefault(field, []).extend(codes)
    if errors:
        raise ValidationFailed(errors)
    _normalise(coupon)
    coupon.updated_at = datetime.now(UTC)
    if targets is not None:
        await repository.delete_targets(session, coupon.id)
        session.add_all(_targets(coupon, *targets))
    await flush_unique(session)
    return await _publish(session, "updated", coupon)


async def delete(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.Coupon:
    coupon = await get(session, organization_id, code)
    now = datetime.now(UTC)
    coupon.terminated_at = coupon.terminated_at or now
    coupon.deleted_at = now
    await session.flush()
    return await _publish(session, "deleted", coupon)
