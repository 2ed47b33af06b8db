"""The usage snapshot a closed billing period carries in `subscription.billing_period_ended`.

Built in the closing transaction from local state only (the cached plan version, the cached
metrics, the rollups), so closing never waits on the catalog: per charge and filter the units,
events count, amount as priced now, and the per-event values `percentage` and `dynamic` charges
need (`event_values`), so invoicing can price the period without reading events.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.subscriptions import UsageSnapshot
from invora.periods import Period
from subscriptions.plans import repository as plans
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage import repository
from subscriptions.usage.current import usage_of
from subscriptions.usage_events.metrics import Metric


async def events_counted(session: AsyncSession, subscription_id: uuid.UUID, bucket_start: datetime) -> int:
    """Events in the rollups of one subscription's full billing period (what a snapshot of it counted)."""
    return await repository.events_counted(session, subscription_id, bucket_start)


async def usage_snapshot(session: AsyncSession, subscription: Subscription, start: datetime,
                         end: datetime) -> dict[str, Any] | None:
    version = await plans.cached_plan_version(session, subscription.organization_id, subscription.plan_version_id)
    if version is None:
        return None
    metric_ids = {str(c["lago_billable_metric_id"]) for c in version.get("charges") or []}
    bodies = await plans.cached_metrics(session, subscription.organization_id, metric_ids)
    metrics = {body["code"]: Metric.of(body) for body in bodies}
    usage = await usage_of(session, subscription, version, metrics, Period(start, end), apply_taxes=False,
                           with_event_values=True)
    return {**usage, "from_datetime": start.isoformat(), "to_datetime": end.isoformat()}


async def period_usage(session: AsyncSession, subscription: Subscription, start: datetime,
                       end: datetime) -> UsageSnapshot | None:
    """The snapshot as the typed contract the events carry (a drift from it fails the closing transaction)."""
    usage = await usage_snapshot(session, subscription, start, end)
    return None if usage is None else UsageSnapshot.model_validate(usage)
