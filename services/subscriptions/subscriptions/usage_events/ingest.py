"""Ingestion of usage events: validate a whole batch, store it with one bulk insert, update the rollups.

A batch is all-or-nothing (Lago): if any event is invalid nothing is stored and the 422 names every
invalid event by its index. Valid batches are stored with one `INSERT … SELECT FROM unnest(…) ON
CONFLICT DO NOTHING RETURNING`; only the rows that insert returns update the rollups, in the same
transaction, so a repeated transaction id (in the batch, across batches, or racing in another
request) is stored and counted once, and raw events and rollups commit or vanish together.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import ValidationFailed
from invora.ids import uuid7
from subscriptions.common.inputs import EARLIEST_DATE
from subscriptions.periods import Period, Schedule
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage_events.metrics import Metric, MetricCache, plan_metrics
from subscriptions.usage_events.schemas import EventInput

# how far ahead of the service's clock an event may be stamped (clock skew, not pre-recorded usage)
MAX_FUTURE = timedelta(hours=24)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def schedule_for(subscription: Subscription) -> Schedule:
    """The subscription's billing schedule (as `lifecycle.schedule_of`, which imports this module's users)."""
    return Schedule.of(subscription.plan_interval, subscription.billing_time, subscription.subscription_at,
                       subscription.timezone)


class _Periods:
    """Full billing periods met in one batch, per subscription: most events fall in one or two."""

    def __init__(self) -> None:
        self._known: dict[uuid.UUID, tuple[Schedule, list[Period], datetime | None]] = {}

    def locate(self, subscription: Subscription, instant: datetime) -> tuple[datetime, bool]:
        """The start of the full period holding `instant`, and whether that period is already closed."""
        known = self._known.get(subscription.id)
        if known is None:
            schedule = schedule_for(subscription)
            open_start = subscription.current_period_start
            known = (schedule, [], schedule.period_at(open_start).start if open_start is not None else None)
            self._known[subscription.id] = known
        schedule, seen, open_full_start = known
        period = next((p for p in seen if p.start <= instant < p.end), None)
        if period is None:
            period = schedule.period_at(instant)
            seen.append(period)
        return period.start, open_full_start is not None and period.start < open_full_start


class BatchValidationFailed(ValidationFailed):
    """422 whose details are keyed by the index of each invalid event (Lago's batch errors)."""

    def __init__(self, by_index: dict[int, dict[str, list[str]]]) -> None:
        super().__init__()
        self.by_index = by_index

    def body(self) -> dict[str, Any]:
        return {**super().body(), "error_details": {str(i): errors for i, errors in sorted(self.by_index.items())}}


@dataclass(slots=True)
class Prepared:
    index: int
    id: uuid.UUID
    subscription: Subscription
    event: EventInput
    timestamp: datetime
    properties: dict[str, Any]
    precise: Decimal | None
    metric: Metric
    value: Decimal | None
    group_key: str
    period_start: datetime
    late: bool = False


def parse_timestamp(value: int | float | str | None, now: datetime) -> datetime:
    if value is None:
        return now
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    seconds = Decimal(str(value))
    if not seconds.is_finite() or abs(seconds) > 10**11:
        raise ValueError
    return EPOCH + timedelta(microseconds=int(seconds * 1_000_000))


def number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return None
    try:
        parsed = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not parsed.is_finite() or abs(parsed) >= Decimal(10) ** 30:
        return None
    return parsed


def group_key(metric: Metric, properties: dict[str, Any]) -> str:
    """The filter dimensions of an event: its values for the metric's filter keys, when allowed."""
    if not metric.filters:
        return ""
    group = {}
    for key, allowed in metric.filters.items():
        if key in properties and str(properties[key]) in allowed:
            group[key] = str(properties[key])
    return json.dumps(group, sort_keys=True, separators=(",", ":")) if group else ""


async def _subscriptions(session: AsyncSession, organization_id: uuid.UUID,
                         external_ids: set[str]) -> tuple[dict[str, Subscription], set[str]]:
    rows = (await session.execute(select(Subscription).where(
        Subscription.organization_id == organization_id, Subscription.external_id.in_(external_ids),
        Subscription.status.in_(("active", "terminated")),
    ))).scalars().all()
    active = {row.external_id: row for row in rows if row.status == "active"}
    terminated = {row.external_id for row in rows if row.status == "terminated"} - set(active)
    return active, terminated


async def prepare(session: AsyncSession, catalog: CatalogClient, cache: MetricCache, organization_id: uuid.UUID,
                  events: Sequence[EventInput], now: datetime, *, batch: bool) -> list[Prepared]:
    """Validate every event; raise once with every error by index, or return them ready to store."""
    active, terminated = await _subscriptions(session, organization_id, {e.external_subscription_id for e in events})
    metrics_by_version: dict[uuid.UUID, dict[str, Metric]] = {}
    periods = _Periods()
    errors: dict[int, dict[str, list[str]]] = {}
    prepared: list[Prepared] = []
    for index, event in enumerate(events):
        problems: dict[str, list[str]] = {}
        try:
            timestamp = parse_timestamp(event.timestamp, now)
        except (ValueError, ArithmeticError, OverflowError):
            problems["timestamp"] = ["invalid_timestamp"]
            timestamp = now
        else:
            if timestamp > now + MAX_FUTURE:
                problems["timestamp"] = ["timestamp_is_too_far_in_the_future"]
            elif timestamp < EARLIEST_DATE:
                problems["timestamp"] = ["invalid_timestamp"]
        precise = None
        if event.precise_total_amount_cents is not None:
            precise = number(event.precise_total_amount_cents)
            if precise is None:
                problems["precise_total_amount_cents"] = ["value_is_invalid"]
        subscription = active.get(event.external_subscription_id)
        metric = None
        if subscription is None:
            code = ("subscription_is_terminated" if event.external_subscription_id in terminated
                    else "subscription_not_found")
            problems["external_subscription_id"] = [code]
        else:
            version = subscription.plan_version_id
            if version not in metrics_by_version:
                metrics_by_version[version] = await plan_metrics(session, catalog, cache, organization_id, version)
            metric = metrics_by_version[version].get(event.code)
            if metric is None:
                problems["code"] = ["billable_metric_not_found"]
        properties = event.properties or {}
        value: Decimal | None = None
        if metric is not None and metric.needs_field:
            field = metric.field_name or ""
            raw = properties.get(field)
            if raw is None:
                problems[f"properties.{field}"] = ["value_is_mandatory"]
            elif metric.needs_number:
                value = number(raw)
                if value is None:
                    problems[f"properties.{field}"] = ["value_is_not_numeric"]
        if problems:
            errors[index] = problems
            continue
        assert subscription is not None and metric is not None
        period_start, late = periods.locate(subscription, timestamp)
        prepared.append(Prepared(
            index=index, id=uuid7(), subscription=subscription, event=event, timestamp=timestamp,
            properties=properties, precise=precise, metric=metric, value=value,
            group_key=group_key(metric, properties), period_start=period_start, late=late,
        ))
    if errors:
        if not batch:
            raise ValidationFailed(errors[0])
        raise BatchValidationFailed(errors)
    return prepared

