"""Billable metrics: validation of the aggregation rules, and protection of metrics that plans sell.

Rules (Lago's): `field_name` is required for every aggregation but `count_agg`; `recurring` is
refused for `count_agg`, `max_agg` and `latest_agg`; `weighted_interval` only exists for
`weighted_sum_agg` (default `seconds`); filter keys are unique. Once a plan charges a metric, what
defines its units (code, aggregation, field, recurring, interval, expression) can no longer change,
and a metric the current version of a live plan charges cannot be deleted.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.billable_metrics import repository
from catalog.billable_metrics.errors import BillableMetricAttachedToLivePlans, BillableMetricNotFound
from catalog.billable_metrics.models import BillableMetric
from catalog.billable_metrics.repository import by_ids as by_ids
from catalog.billable_metrics.repository import find as find
from catalog.billable_metrics.repository import live_by_codes as live_by_codes
from catalog.billable_metrics.schemas import (
    BillableMetricCreateInput,
    BillableMetricFilterInput,
    BillableMetricUpdateInput,
    EvaluateExpressionInput,
)
from catalog.events import publish
from catalog.plans import repository as plan_repository
from invora.db.flush import flush_unique
from invora.errors import ValidationFailed
from invora.events.contracts import catalog as contracts
from invora.expressions import EventInput, ExpressionFailed, ExpressionInvalid, compile_expression, render
from invora.web.pagination import PageParams, PaginationMeta

NOT_RECURRING = frozenset({"count_agg", "max_agg", "latest_agg"})
LOCKED_WHEN_CHARGED = ("code", "aggregation_type", "field_name", "recurring", "weighted_interval", "expression")


def to_object(metric: BillableMetric) -> contracts.BillableMetric:
    return contracts.BillableMetric(
        lago_id=metric.id, name=metric.name, code=metric.code, description=metric.description,
        aggregation_type=metric.aggregation_type, field_name=metric.field_name, recurring=metric.recurring,
        rounding_function=metric.rounding_function, rounding_precision=metric.rounding_precision,
        weighted_interval=metric.weighted_interval, expression=metric.expression,
        filters=[contracts.BillableMetricFilter(**f) for f in metric.filters], created_at=metric.created_at,
        deleted_at=metric.deleted_at,
    )


async def get(session: AsyncSession, organization_id: uuid.UUID, code: str) -> BillableMetric:
    metric = await find(session, organization_id, code)
    if metric is None:
        raise BillableMetricNotFound()
    return metric


async def read(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.BillableMetric:
    return to_object(await get(session, organization_id, code))


async def list_metrics(
    session: AsyncSession, organization_id: uuid.UUID, page: PageParams, *,
    aggregation_types: list[str] | None = None, plan_code: str | None = None,
) -> tuple[list[contracts.BillableMetric], PaginationMeta]:
    metric_ids = None
    if plan_code is not None:
        metric_ids = await plan_repository.metric_ids_of_current_version(session, organization_id, plan_code)
    rows, meta = await repository.page(session, organization_id, page, aggregation_types=aggregation_types,
                                       metric_ids=metric_ids)
    return [to_object(m) for m in rows], meta


async def create(
    session: AsyncSession, organization_id: uuid.UUID, data: BillableMetricCreateInput,
) -> contracts.BillableMetric:
    metric = BillableMetric(
        organization_id=organization_id, code=data.code, name=data.name, description=data.description,
        aggregation_type=data.aggregation_type, field_name=data.field_name, recurring=bool(data.recurring),
        rounding_function=data.rounding_function, rounding_precision=data.rounding_precision,
        weighted_interval=data.weighted_interval, expression=data.expression,
        filters=_filters(data.filters or []),
    )
    errors = _rule_errors(metric, data.filters)
    if await find(session, organization_id, data.code) is not None:
        errors.setdefault("code", []).append("value_already_exist")
    if errors:
        raise ValidationFailed(errors)
    _normalise(metric)
    session.add(metric)
    await flush_unique(session)
    await session.refresh(metric)
    result = to_object(metric)
    await publish(session, organization_id, "billable_metric.created", metric.id,
                  contracts.BillableMetricEvent(billable_metric=result))
    return result


async def update(
    session: AsyncSession, organization_id: uuid.UUID, code: str, data: BillableMetricUpdateInput,
) -> contracts.BillableMetric:
    metric = await get(session, organization_id, code)
    before = {field: getattr(metric, field) for field in LOCKED_WHEN_CHARGED}
    for field in ("name", "code", "aggregation_type", "recurring"):
        if getattr(data, field) is not None:
            setattr(metric, field, getattr(data, field))
    for field in ("description", "field_name", "rounding_function", "rounding_precision", "weighted_interval",
                  "expression"):
        if data.given(field):
            setattr(metric, field, getattr(data, field))
    if data.filters is not None:
        metric.filters = _filters(data.filters)
    _normalise(metric)

    errors = _rule_errors(metric, data.filters)
    changed = [field for field in LOCKED_WHEN_CHARGED if getattr(metric, field) != before[field]]
    with session.no_autoflush:  # nothing reaches the database before the checks pass
        if metric.code != before["code"] and await find(session, organization_id, metric.code) is not None:
            errors.setdefault("code", []).append("value_already_exist")
        if changed and await plan_repository.metric_is_charged(session, metric.id):
            for field in changed:
                errors.setdefault(field, []).append("not_editable_when_attached_to_plans")
    if errors:
        raise ValidationFailed(errors)
    await flush_unique(session)
    await session.refresh(metric)
    result = to_object(metric)
    await publish(session, organization_id, "billable_metric.updated", metric.id,
                  contracts.BillableMetricEvent(billable_metric=result))
    return result


async def delete(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.BillableMetric:
    """Soft delete: the row stays for the plan versions that sold it; its code becomes free again."""
    metric = await get(session, organization_id, code)
    if await plan_repository.metric_in_live_plans(session, metric.id):
        raise BillableMetricAttachedToLivePlans()
    metric.deleted_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(metric)
    result = to_object(metric)
    await publish(session, organization_id, "billable_metric.deleted", metric.id,
                  contracts.BillableMetricEvent(billable_metric=result))
    return result


def _filters(filters: list[BillableMetricFilterInput]) -> list[dict]:
    return [{"key": f.key, "values": list(dict.fromkeys(f.values))} for f in filters]


def _normalise(metric: BillableMetric) -> None:
    if metric.aggregation_type == "weighted_sum_agg":
        metric.weighted_interval = metric.weighted_interval or "seconds"
    else:
        metric.weighted_interval = None
    if metric.expression is not None and not metric.expression.strip():
        metric.expression = None  # blank: no expression (Lago's `expression.present?`)


def _rule_errors(metric: BillableMetric, filters: list[BillableMetricFilterInput] | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if metric.aggregation_type != "count_agg" and not metric.field_name:
        errors["field_name"] = ["value_is_mandatory"]
    if metric.recurring and metric.aggregation_type in NOT_RECURRING:
        errors["recurring"] = ["not_compatible_with_aggregation_type"]
    if metric.expression and metric.expression.strip():
        try:
            compile_expression(metric.expression)
        except ExpressionInvalid:
            errors["expression"] = ["invalid_expression"]
        if not metric.field_name:  # the value lands in the event's `field_name` property
            errors["field_name"] = ["value_is_mandatory"]
    if filters is not None:
        keys = [f.key for f in filters]
        if len(set(keys)) != len(keys):
            errors["filters"] = ["duplicated_filter_keys"]
    return errors


def evaluate_expression(data: EvaluateExpressionInput, now: datetime) -> str:
    """What `data.expression` gives for `data.event` (Lago's `BillableMetrics::EvaluateExpressionService`):
    `expression` blank → value_is_mandatory, not an expression → invalid_expression; an event it cannot be
    evaluated for → `event: invalid_event` (plus the missing property, when that is why)."""
    if not data.expression.strip():
        raise ValidationFailed(expression="value_is_mandatory")
    try:
        expression = compile_expression(data.expression)
    except ExpressionInvalid:
        raise ValidationFailed(expression="invalid_expression") from None
    timestamp = _unix_seconds(data.event.timestamp, now)
    try:
        return render(expression.evaluate(EventInput(data.event.code, timestamp, data.event.properties)))
    except ExpressionFailed as failure:
        details = {"event": ["invalid_event"]}
        if failure.missing is not None:
            details[f"event.properties.{failure.missing}"] = ["value_is_mandatory"]
        raise ValidationFailed(details) from None


def _unix_seconds(value: int | str | None, now: datetime) -> int:
    if value is None:
        return int(now.timestamp())
    if isinstance(value, int):
        return value
    try:
        seconds = Decimal(value.strip())
    except InvalidOperation:
        raise ValidationFailed({"event.timestamp": ["invalid_timestamp"]}) from None
    if not seconds.is_finite() or abs(seconds) > 10**11:
        raise ValidationFailed({"event.timestamp": ["invalid_timestamp"]})
    return int(seconds)
