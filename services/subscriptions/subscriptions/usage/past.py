"""Past usage (Lago's `usage_periods`): the closed billing periods of a subscription, newest first,
each aggregated from its rollups like the current period."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invora.periods import Period
from invora.web.pagination import PageParams, PaginationMeta
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions import repository
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.usage.current import usage_of
from subscriptions.usage_events.metrics import MetricCache, plan_metrics


async def past_usage(session: AsyncSession, catalog: CatalogClient, cache: MetricCache, organization_id: uuid.UUID,
                     customer_id: uuid.UUID, external_subscription_id: str, page: PageParams,
                     billable_metric_code: str | None = None,
                     periods_count: int | None = None) -> tuple[list[dict[str, Any]], PaginationMeta]:
    # the live customer's, not a predecessor's with its external id
    subscriptions = {s.id: s for s in await repository.all_of_customer_by_external_id(
        session, organization_id, customer_id, external_subscription_id)}
    if not subscriptions:
        raise SubscriptionNotFound()
    subscription_ids = list(subscriptions)
    total = await repository.count_periods(session, organization_id, subscription_ids)
    if periods_count is not None:
        total = min(total, periods_count)
    limit = max(0, min(page.per_page, total - page.offset))
    periods = (await repository.latest_periods(session, organization_id, subscription_ids, limit, page.offset)
               if limit else [])
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
