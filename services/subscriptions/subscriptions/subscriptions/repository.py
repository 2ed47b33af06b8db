"""Reads about subscriptions that routes and other domains need."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import case, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta, paginate
from subscriptions.common.inputs import storable_key
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.subscriptions.models import LIVE_STATUSES, Subscription


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
