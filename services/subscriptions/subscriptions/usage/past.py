"""Past usage (Lago's `usage_periods`): the closed billing periods of a subscription, newest first,
each aggregated from its rollups like the current period."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta
from subscriptions.periods import Period
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.subscriptions.models import BillingPeriod, Subscription
from subscriptions.usage.current import usage_of
from subscriptions.usage_events.metrics import MetricCache, plan_metrics


async def past_usage(session: AsyncSession, catalog: CatalogClient, cache: MetricCache, organization_id: uuid.UUID,
                     customer_id: uuid.UUID, external_subscription_id: str, page: PageParams,
                     billable_metric_code: str | None = None,
                     periods_count: int | None = None) -> tuple[list[dict[str, Any]], PaginationMeta]:
    subscriptions = {s.id: s for s in (await session.execute(select(Subscription).where(
        Subscription.organization_id == organization_id, Subscription.external_id == external_subscription_id,
        Subscription.customer_id == customer_id,  # the live customer's, not a predecessor's with its external id
    ))).scalars().all()}
    if not subscriptions:
        raise SubscriptionNotFound()
    where = (BillingPeriod.organization_id == organization_id,
             BillingPeriod.subscription_id.in_(list(subscriptions)))
    total = (await session.execute(select(func.count()).select_from(BillingPeriod).where(*where))).scalar_one()
    if periods_count is not None:
        total = min(total, periods_count)
    limit = max(0, min(page.per_page, total - page.offset))
    periods = (await session.execute(select(BillingPeriod).where(*where).order_by(
        BillingPeriod.period_start.desc()).limit(limit).offset(page.offset))).scalars().all() if limit else []
    usage_periods = []
    for period in periods:
        subscription = subscriptions[period.subscription_id]
        version = await catalog.plan_version(session, organization_id, subscription.plan_version_id)
        metrics = await plan_metrics(session, catalog, cache, organization_id, subscription.plan_version_id)
        usage = await usage_of(session, subscription, version, metrics, Period(period.period_start, period.period_end))
        if billable_metric_code is not None:
            usage["charges_usage"] = [c for c in usage["charges_usage"]
                                      if c["billable_metric"]["code"] == billable_metric_code]
        usage_periods.append(usage)
    return usage_periods, page.meta(total)
