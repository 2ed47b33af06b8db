"""The SQL of subscriptions, their billing periods and their plans' entitlements projection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta, paginate
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.subscriptions.models import (
    LIVE_STATUSES,
    BillingPeriod,
    PlanEntitlementsProjection,
    Subscription,
)


async def has_live_subscriptions(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    return bool((await session.execute(select(exists().where(
        Subscription.customer_id == customer_id, Subscription.status.in_(LIVE_STATUSES),
    )))).scalar())


async def find_by_external_id(session: AsyncSession, organization_id: uuid.UUID, external_id: str, *,
                              status: str | None = None, for_update: bool = False) -> Subscription:
    """The subscription an external id names now: the given status, else active, then pending, then the latest."""
    if not storable_key(external_id):
        raise SubscriptionNotFound()
    statement = select(Subscription).where(
        Subscription.organization_id == organization_id, Subscription.external_id == external_id)
    if status is not None:
        statement = statement.where(Subscription.status == status)
    rank = case((Subscription.status == "active", 0), (Subscription.status == "pending", 1), else_=2)
    statement = statement.order_by(rank, Subscription.created_at.desc()).limit(1)
    if for_update:
        statement = statement.with_for_update()
    subscription = (await session.execute(statement)).scalar_one_or_none()
    if subscription is None:
        raise SubscriptionNotFound()
    return subscription


@dataclass
class SubscriptionFilters:
    external_customer_id: str | None = None
    plan_code: str | None = None
    statuses: list[str] = field(default_factory=lambda: list(LIVE_STATUSES))


async def list_subscriptions(session: AsyncSession, organization_id: uuid.UUID, filters: SubscriptionFilters,
                             page: PageParams) -> tuple[list[Subscription], PaginationMeta]:
    statement = select(Subscription).where(Subscription.organization_id == organization_id,
                                           Subscription.status.in_(filters.statuses))
    if filters.external_customer_id is not None:
        statement = statement.where(Subscription.external_customer_id == filters.external_customer_id)
    if filters.plan_code is not None:
        statement = statement.where(Subscription.plan_code == filters.plan_code)
    statement = statement.order_by(Subscription.created_at.desc(), Subscription.id.desc())
    return await paginate(session, statement, page)


async def all_by_external_id(session: AsyncSession, organization_id: uuid.UUID,
                             external_id: str) -> Sequence[Subscription]:
    """Every subscription row an external id has named (plan changes, any status), oldest first."""
    return (await session.execute(select(Subscription).where(
        Subscription.organization_id == organization_id, Subscription.external_id == external_id,
    ).order_by(Subscription.created_at, Subscription.id))).scalars().all()


async def live_by_external_id(session: AsyncSession, organization_id: uuid.UUID,
                              external_id: str) -> Sequence[Subscription]:
    """The live (active or pending) subscriptions of an external id, newest first, locked."""
    return (await session.execute(
        select(Subscription).where(
            Subscription.organization_id == organization_id, Subscription.external_id == external_id,
            Subscription.status.in_(LIVE_STATUSES),
        ).order_by(Subscription.created_at.desc()).with_for_update()
    )).scalars().all()


async def get_for_update(session: AsyncSession, subscription_id: uuid.UUID) -> Subscription | None:
    return (await session.execute(select(Subscription).where(
        Subscription.id == subscription_id).with_for_update())).scalar_one_or_none()


async def live_of_customer(session: AsyncSession, customer_id: uuid.UUID) -> Sequence[Subscription]:
    """A customer's live subscriptions, locked, pending first (a downgrade's next plan before its current one)."""
    return (await session.execute(
        select(Subscription).where(Subscription.customer_id == customer_id, Subscription.status.in_(LIVE_STATUSES))
        .order_by(Subscription.status.desc())
        .with_for_update()
    )).scalars().all()


async def live_on_plan_version(session: AsyncSession, organization_id: uuid.UUID,
                               plan_version_id: uuid.UUID) -> Sequence[Subscription]:
    return (await session.execute(select(Subscription).where(
        Subscription.organization_id == organization_id,
        Subscription.plan_version_id == plan_version_id, Subscription.status.in_(LIVE_STATUSES),
    ).with_for_update())).scalars().all()


# the scheduler's claim (`subscriptions/scheduler.py`): due rows, then each one re-read under a skipping lock

def _due_active(now: datetime) -> ColumnElement[bool]:
    return and_(Subscription.status == "active", or_(
        Subscription.current_period_end <= now,
        Subscription.ending_at <= now,
        and_(Subscription.trial_ends_at <= now, Subscription.trial_ended_at.is_(None)),
    ))


def _due_pending(now: datetime) -> ColumnElement[bool]:
    # a downgrade's next subscription starts when its predecessor's period closes, not on its own
    return and_(Subscription.status == "pending", Subscription.previous_subscription_id.is_(None),
                Subscription.subscription_at <= now)


async def due_ids(session: AsyncSession, now: datetime, after: uuid.UUID, limit: int,
                  not_parked: ColumnElement[bool]) -> Sequence[Any]:
    """(id, organization_id) of the subscriptions due at `now` after `after`, in id order."""
    return (await session.execute(
        select(Subscription.id, Subscription.organization_id)
        .where(or_(_due_active(now), _due_pending(now)), Subscription.id > after, not_parked)
        .order_by(Subscription.id).limit(limit)
    )).all()


async def claim_due(session: AsyncSession, subscription_id: uuid.UUID, now: datetime) -> Subscription | None:
    """The subscription, locked, if it is still due and no other replica holds it."""
    return (await session.execute(
        select(Subscription).where(Subscription.id == subscription_id, or_(_due_active(now), _due_pending(now)))
        .with_for_update(skip_locked=True)
    )).scalar_one_or_none()


async def claim_period(session: AsyncSession, row_id: uuid.UUID, subscription: Subscription, start: datetime,
                       end: datetime, reason: str) -> bool:
    """Insert the (subscription, period_start) row that closes a period; False when it exists (closed before)."""
    inserted = (await session.execute(
        insert(BillingPeriod).values(
            id=row_id, organization_id=subscription.organization_id, subscription_id=subscription.id,
            period_start=start, period_end=end, reason=reason, event_id=row_id,
        ).on_conflict_do_nothing(index_elements=["subscription_id", "period_start"]).returning(BillingPeriod.id)
    )).scalar_one_or_none()
    return inserted is not None


async def record_period_usage(session: AsyncSession, row_id: uuid.UUID, amount_cents: int,
                              events_count: int) -> None:
    await session.execute(update(BillingPeriod).where(BillingPeriod.id == row_id).values(
        usage_amount_cents=amount_cents, usage_events_count=events_count))


async def add_closed_periods(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(BillingPeriod), rows)


async def remember_entitlements(session: AsyncSession, organization_id: uuid.UUID, plan_id: uuid.UUID,
                                plan_code: str, entitlements: list[Any], as_of: datetime) -> None:
    """Keep a plan's entitlements as of `as_of`; an older answer never overwrites a newer one."""
    statement = insert(PlanEntitlementsProjection).values(
        organization_id=organization_id, plan_id=plan_id, plan_code=plan_code, entitlements=entitlements,
        as_of=as_of)
    await session.execute(statement.on_conflict_do_update(
        index_elements=["organization_id", "plan_id"],
        set_={"plan_code": statement.excluded.plan_code, "entitlements": statement.excluded.entitlements,
              "as_of": statement.excluded.as_of, "updated_at": func.now()},
        where=PlanEntitlementsProjection.as_of < statement.excluded.as_of,
    ))


async def get(session: AsyncSession, subscription_id: uuid.UUID) -> Subscription:
    return (await session.execute(select(Subscription).where(Subscription.id == subscription_id))).scalar_one()


async def lock_skipping(session: AsyncSession, subscription_id: uuid.UUID) -> Subscription | None:
    """The subscription locked, or None when another transaction (a replica's pass) holds it."""
    return (await session.execute(select(Subscription).where(Subscription.id == subscription_id)
                                  .with_for_update(skip_locked=True))).scalar_one_or_none()


async def exists_by_external_id(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> bool:
    return (await session.execute(select(Subscription.id).where(
        Subscription.organization_id == organization_id, Subscription.external_id == external_id,
    ).limit(1))).scalar_one_or_none() is not None


async def active_by_external_id(session: AsyncSession, organization_id: uuid.UUID,
                                external_id: str) -> Subscription | None:
    return (await session.execute(select(Subscription).where(
        Subscription.organization_id == organization_id, Subscription.external_id == external_id,
        Subscription.status == "active",
    ))).scalar_one_or_none()


async def all_of_customer_by_external_id(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                                         external_id: str) -> Sequence[Subscription]:
    return (await session.execute(select(Subscription).where(
        Subscription.organization_id == organization_id, Subscription.external_id == external_id,
        Subscription.customer_id == customer_id,
    ))).scalars().all()


async def count_periods(session: AsyncSession, organization_id: uuid.UUID,
                        subscription_ids: list[uuid.UUID]) -> int:
    return (await session.execute(select(func.count()).select_from(BillingPeriod).where(
        BillingPeriod.organization_id == organization_id, BillingPeriod.subscription_id.in_(subscription_ids),
    ))).scalar_one()


async def latest_periods(session: AsyncSession, organization_id: uuid.UUID, subscription_ids: list[uuid.UUID],
                         limit: int, offset: int) -> Sequence[BillingPeriod]:
    """Closed periods of these subscriptions, the latest first."""
    return (await session.execute(select(BillingPeriod).where(
        BillingPeriod.organization_id == organization_id, BillingPeriod.subscription_id.in_(subscription_ids),
    ).order_by(BillingPeriod.period_start.desc()).limit(limit).offset(offset))).scalars().all()


async def billed_usage_amount(session: AsyncSession, subscription_ids: list[uuid.UUID]) -> int:
    """Σ usage amounts of the closed periods of these subscriptions."""
    total = (await session.execute(select(func.coalesce(func.sum(BillingPeriod.usage_amount_cents), 0)).where(
        BillingPeriod.subscription_id.in_(subscription_ids)))).scalar_one()
    return int(total)


# the revision pass (`usage/revisions.py`): closed periods whose usage late events may have changed

def _revision_due(grace_seconds: float) -> ColumnElement[bool]:
    return and_(
        or_(BillingPeriod.usage_revision_pending, ~BillingPeriod.usage_checked),
        or_(BillingPeriod.usage_revision_pending, BillingPeriod.created_at <= text(
            "now() - make_interval(secs => :grace)").bindparams(grace=grace_seconds)),
    )


async def revision_due_ids(session: AsyncSession, grace_seconds: float, after: uuid.UUID, limit: int,
                           not_parked: ColumnElement[bool]) -> Sequence[Any]:
    return (await session.execute(
        select(BillingPeriod.id, BillingPeriod.organization_id)
        .where(BillingPeriod.id > after, _revision_due(grace_seconds), not_parked)
        .order_by(BillingPeriod.id).limit(limit))).all()


async def claim_revision_due(session: AsyncSession, period_id: uuid.UUID,
                             grace_seconds: float) -> BillingPeriod | None:
    return (await session.execute(
        select(BillingPeriod).where(BillingPeriod.id == period_id, _revision_due(grace_seconds))
        .with_for_update(skip_locked=True))).scalar_one_or_none()
