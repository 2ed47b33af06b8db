"""Ingestion of usage events: validate a whole batch and prepare each event for `repository.write`.

A batch is all-or-nothing (Lago): if any event is invalid nothing is stored and the 422 names every
invalid event by its index. Valid batches are stored with one statement (`repository.WRITE_EVENTS`): an
`INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING` whose returned rows, and only
those, are folded into the rollups, so a repeated transaction id (in the batch, across batches, or
racing in another request) is stored and counted once, and raw events and rollups commit or
vanish together. Everything here is per-event Python on the request's path: no per-event query,
no per-event catalog call, periods and filter groups from process-wide caches.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import ValidationFailed
from invora.expressions import EventInput as ExpressionEvent
from invora.expressions import ExpressionFailed, ExpressionInvalid, compile_expression
from invora.ids import uuid7
from invora.web.fields import EARLIEST_DATE
from subscriptions.plans.client import CatalogClient
from subscriptions.usage_events.answers import properties_json
from subscriptions.usage_events.buckets import locate
from subscriptions.usage_events.metrics import Metric, MetricCache, plan_metrics
from subscriptions.usage_events.pricing_groups import MAX_PRICING_GROUP, Keys, merged, plan_pricing_keys, pricing_group
from subscriptions.usage_events.schemas import EventInput

# how far ahead of the service's clock an event may be stamped (clock skew, not pre-recorded usage)
MAX_FUTURE = timedelta(hours=24)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


# Instants cross the driver as microseconds since the epoch: asyncpg's timestamptz codec costs
# ≈ 1.3 µs a value, a thousand values a batch.
def micros(instant: datetime) -> int:
    return (instant - EPOCH) // MICROSECOND


@lru_cache(maxsize=65_536)  # subscriptions share their start dates and open periods
def instant(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class EventSubscription(NamedTuple):
    """The columns of a subscription that ingestion reads, as `repository.SUBSCRIPTIONS` selects them: a
    tuple built in C from the driver's row, not an ORM row (identity map, JSONB overrides decoded)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    external_id: str
    status: str
    plan_version_id: uuid.UUID
    plan_interval: str
    billing_time: str
    subscription_at_micros: int
    timezone: str
    current_period_start_micros: int | None
    override_group_keys: list[str] | None = None  # pricing group keys the subscription's charge overrides name

    @property
    def subscription_at(self) -> datetime:
        return instant(self.subscription_at_micros)

    @property
    def current_period_start(self) -> datetime | None:
        micros = self.current_period_start_micros
        return None if micros is None else instant(micros)


class BatchValidationFailed(ValidationFailed):
    """422 whose details are keyed by the index of each invalid event (Lago's batch errors)."""

    def __init__(self, by_index: dict[int, dict[str, list[str]]]) -> None:
        super().__init__()
        self.by_index = by_index

    def body(self) -> dict[str, Any]:
        return {**super().body(), "error_details": {str(i): errors for i, errors in sorted(self.by_index.items())}}


@dataclass(slots=True)
class Prepared:
    id: uuid.UUID
    subscription: EventSubscription
    event: EventInput
    timestamp: datetime
    properties: dict[str, Any]
    properties_json: bytes
    precise: Decimal | None
    metric: Metric
    value: Decimal | None
    group_key: str
    period_start: datetime
    pricing_group: str = ""
    late: bool = False
    unique_value: str | None = None  # unique count: the value counted, and whether this event adds it
    present: bool = True


def parse_timestamp(value: int | float | str | None, now: datetime) -> datetime:
    if value is None:
        return now
    if isinstance(value, bool):
        raise ValueError
    if type(value) is int and abs(value) <= 10**11:  # whole seconds: no decimal arithmetic needed
        return EPOCH + timedelta(seconds=value)
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


# The bounds of a number an event carries (a metric's field, `precise_total_amount_cents`), chosen so
# that every sum the rollups keep and the pricing path reads stays exact and small: a period of a
# million maximal events sums to at most 1e21 with 12 decimals (34 significant digits), well inside
# PostgreSQL's NUMERIC and the pricing engine's 80-digit context. `docs/operations.md` ("Limits").
MAX_EVENT_VALUE = Decimal(10) ** 15
MAX_EVENT_VALUE_DECIMALS = 12


class OutOfRange(ValueError):
    """A number beyond the documented bounds (`value_is_out_of_range`)."""


_READ_LIMIT = Decimal(10) ** 30


def number(value: Any) -> Decimal | None:
    """A stored value read as a number (never raises): None when it is not a finite one below 1e30."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return None
    try:
        parsed = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not parsed.is_finite() or abs(parsed) >= _READ_LIMIT:
        return None
    return parsed


def event_number(value: Any) -> Decimal | None:
    """An incoming event's number: None when it is not one; OutOfRange when it is one beyond the bounds."""
    parsed = number(value)
    if parsed is None:
        if isinstance(value, (int, str, float)) and not isinstance(value, bool):
            try:
                candidate = Decimal(str(value).strip())
            except InvalidOperation:
                return None
            if candidate.is_finite():
                raise OutOfRange(str(value)[:40])
        return None
    exponent = parsed.as_tuple().exponent
    if abs(parsed) > MAX_EVENT_VALUE or (isinstance(exponent, int) and exponent < -MAX_EVENT_VALUE_DECIMALS
                                         and parsed != parsed.quantize(Decimal(1).scaleb(-MAX_EVENT_VALUE_DECIMALS),
                                                                       context=_WIDE)):
        raise OutOfRange(str(value)[:40])
    return parsed


_WIDE = Context(prec=60)


# an expression's value is kept to the decimals an event's number may carry (`event_number`), half-up:
# `units / 3` gives 50 digits, which would otherwise be refused as out of range
_EXPRESSION_QUANTUM = Decimal(1).scaleb(-MAX_EVENT_VALUE_DECIMALS)


def with_expression_value(metric: Metric, properties: dict[str, Any], code: str, timestamp: datetime,
                          problems: dict[str, list[str]]) -> dict[str, Any]:
    """The event's properties with the metric's expression evaluated into `field_name` (Lago's
    `Events::CalculateExpressionService`), or unchanged with the reason added to `problems`."""
    field = metric.field_name or ""
    try:
        expression = compile_expression(metric.expression or "")
        value = expression.evaluate(ExpressionEvent(code, int(timestamp.timestamp()), properties))
    except ExpressionInvalid:  # saved before the catalog checked expressions: say so, never a 500
        problems["code"] = ["invalid_expression"]
        return properties
    except ExpressionFailed as failure:
        if failure.missing is not None:
            problems[f"properties.{failure.missing}"] = ["value_is_mandatory"]
        else:
            problems[f"properties.{field}"] = ["expression_evaluation_failed"]
        return properties
    if isinstance(value, Decimal):
        try:
            value = value.quantize(_EXPRESSION_QUANTUM, rounding=ROUND_HALF_UP, context=_WIDE).normalize(_WIDE)
        except InvalidOperation:
            problems[f"properties.{field}"] = ["value_is_out_of_range"]
            return properties
        rendered: str = format(value, "f")
    else:
        rendered = value
    return {**properties, field: rendered}


def group_key(metric: Metric, properties: dict[str, Any]) -> str:
    """The filter dimensions of an event: its values for the metric's filter keys, when allowed."""
    if not metric.filters:
        return ""
    group = []
    for key, allowed in metric.filters.items():
        if key in properties and (value := str(properties[key])) in allowed:
            group.append((key, value))
    return _group_text(tuple(group)) if group else ""


@lru_cache(maxsize=4096)  # bounded anyway: the values are among the metric's allowed ones
def _group_text(group: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(dict(group), sort_keys=True, separators=(",", ":"))


async def prepare(session: AsyncSession, catalog: CatalogClient, cache: MetricCache, organization_id: uuid.UUID,
                  events: Sequence[EventInput], now: datetime, active: dict[str, EventSubscription],
                  terminated: set[str], *, batch: bool) -> list[Prepared]:
    """Validate every event against the subscriptions found (`active` by external id, and the external
    ids of `terminated` ones); raise once with every error by index, or return them ready to store."""
    metrics_by_version: dict[uuid.UUID, dict[str, Metric]] = {}
    pricing_keys_by_version: dict[uuid.UUID, dict[str, Keys]] = {}
    errors: dict[int, dict[str, list[str]]] = {}
    prepared: list[Prepared] = []
    latest = now + MAX_FUTURE
    for index, event in enumerate(events):
        problems: dict[str, list[str]] = {}
        try:
            timestamp = parse_timestamp(event.timestamp, now)
        except (ValueError, ArithmeticError, OverflowError):
            problems["timestamp"] = ["invalid_timestamp"]
            timestamp = now
        else:
            if timestamp > latest:
                problems["timestamp"] = ["timestamp_is_too_far_in_the_future"]
            elif timestamp < EARLIEST_DATE:
                problems["timestamp"] = ["invalid_timestamp"]
        precise = None
        if event.precise_total_amount_cents is not None:
            try:
                precise = event_number(event.precise_total_amount_cents)
            except OutOfRange:
                problems["precise_total_amount_cents"] = ["value_is_out_of_range"]
            else:
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
                pricing_keys_by_version[version] = plan_pricing_keys(
                    organization_id, version, await catalog.plan_version(session, organization_id, version))
            metric = metrics_by_version[version].get(event.code)
            if metric is None:
                problems["code"] = ["billable_metric_not_found"]
        properties = event.properties or {}
        expression_failed = False
        if metric is not None and metric.expression:
            before = len(problems)
            properties = with_expression_value(metric, properties, event.code, timestamp, problems)
            expression_failed = len(problems) > before
        pricing = ""
        if metric is not None:
            keys = pricing_keys_by_version[subscription.plan_version_id].get(event.code, ())
            if subscription.override_group_keys:
                keys = merged(keys, tuple(subscription.override_group_keys))
            if keys:
                pricing = pricing_group(keys, properties)
                if len(pricing) > MAX_PRICING_GROUP:
                    longest = max((k for k in keys if k in properties), key=lambda k: len(str(properties[k])))
                    problems[f"properties.{longest}"] = ["value_is_too_long"]
        value: Decimal | None = None
        unique_value: str | None = None
        if metric is not None and metric.needs_field and not expression_failed:
            field = metric.field_name or ""
            raw = properties.get(field)
            if raw is None:
                problems[f"properties.{field}"] = ["value_is_mandatory"]
            elif metric.needs_number:
                try:
                    value = event_number(raw)
                except OutOfRange:
                    problems[f"properties.{field}"] = ["value_is_out_of_range"]
                else:
                    if value is None:
                        problems[f"properties.{field}"] = ["value_is_not_numeric"]
            elif metric.aggregation_type == "unique_count_agg":
                unique_value = str(raw)
        if problems:
            errors[index] = problems
            continue
        assert subscription is not None and metric is not None
        period_start, late = locate(subscription, subscription.current_period_start, timestamp)
        prepared.append(Prepared(
            id=uuid7(), subscription=subscription, event=event, timestamp=timestamp,
            properties=properties, properties_json=properties_json(properties), precise=precise, metric=metric,
            value=value, group_key=group_key(metric, properties), period_start=period_start, pricing_group=pricing,
            late=late,
            unique_value=unique_value, present=str(properties.get("operation_type") or "add") != "remove",
        ))
    if errors:
        if not batch:
            raise ValidationFailed(errors[0])
        raise BatchValidationFailed(errors)
    return prepared

