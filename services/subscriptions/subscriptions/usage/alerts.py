"""Usage alerts: definitions per subscription (Lago's `alerts`) and their evaluation.

Evaluation runs with the scheduler (`evaluate_alerts`), off the ingestion path: each alert's value
(the current period's usage amount in cents, one metric's amount or units) is compared with the
value seen last time in the same period; every threshold in (previous, current] is crossed, and
a recurring threshold crosses at every multiple of its value above the highest fixed threshold.
Crossings publish one `alert.triggered` per evaluation, in the transaction that stores the new
value (alert rows locked `FOR UPDATE SKIP LOCKED`), so each crossing is published once. A new
period starts again from 0. Each alert is evaluated in its own transaction; one that fails is parked
with its error (`invora.parking`, loop `usage-alerts`) and retried with back-off.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.errors import ValidationFailed
from invora.events.contracts.subscriptions import AlertTriggered
from invora.ids import uuid7
from invora.logging import get_logger
from invora.outbox import add_event
from invora.parking import Backoff, ParkingLot
from invora.web.decimals import DecimalInput, negative_out_of_range
from invora.web.fields import Code, Name
from invora.web.inputs import InputModel
from invora.web.pagination import PageParams, PaginationMeta
from invora.web.schema_rules import given
from subscriptions.subscriptions import repository as subscriptions
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage import lifetime, repository
from subscriptions.usage.alert_models import UsageAlert
from subscriptions.usage.errors import AlertCodeTaken, AlertNotFound
from subscriptions.usage.snapshot import usage_snapshot
from subscriptions.usage_events.ingest import BatchValidationFailed

log = get_logger(__name__)
AlertType = Literal["current_usage_amount", "billable_metric_current_usage_amount",
                    "billable_metric_current_usage_units", "lifetime_usage_amount"]
METRIC_TYPES = ("billable_metric_current_usage_amount", "billable_metric_current_usage_units")


MAX_THRESHOLDS = 20  # Lago's soft limit
MAX_BATCH = 100
MAX_THRESHOLD = 10**20


# Lago: an integer or a BigDecimal string; zero is allowed (it is never crossed: usage starts at zero)
ThresholdValue = Annotated[Decimal, DecimalInput(le=MAX_THRESHOLD), BeforeValidator(negative_out_of_range)]
_POSITIVE_VALUE = TypeAdapter(Annotated[Decimal, DecimalInput(le=MAX_THRESHOLD, positive=True)]).json_schema()
# checked in `_rule_errors`: a recurring threshold repeats every `value`, so it must be above zero
_RECURRING_RULE = {"anyOf": [{"properties": {"recurring": {"const": False}}},
                             {"properties": {"value": _POSITIVE_VALUE}}]}
# checked in `_rule_errors`: the billable metric alert types name their metric
_METRIC_RULE = {"anyOf": [{"properties": {"alert_type": {"enum": ["current_usage_amount", "lifetime_usage_amount"]}}},
                          given("billable_metric_code")]}


class ThresholdInput(InputModel):
    model_config = ConfigDict(json_schema_extra=_RECURRING_RULE)

    code: Code | None = None
    value: ThresholdValue
    recurring: StrictBool = False


Thresholds = Annotated[list[ThresholdInput], Field(max_length=MAX_THRESHOLDS)]


class AlertInput(InputModel):
    """Only one threshold may be recurring."""

    model_config = ConfigDict(json_schema_extra=_METRIC_RULE)

    alert_type: AlertType
    code: Code
    name: Name | None = None
    billable_metric_code: Code | None = None
    thresholds: Annotated[Thresholds, Field(min_length=1)]


class AlertUpdateInput(InputModel):
    """Partial: absent or null fields keep their value; `thresholds` (when not empty) replaces them all.

    `billable_metric_code` changes the metric of a billable metric alert only (ignored for the others).
    """

    code: Code | None = None
    name: Name | None = None
    billable_metric_code: Code | None = None
    thresholds: Thresholds | None = None


def render(alert: UsageAlert) -> dict[str, Any]:
    return {
        "lago_id": str(alert.id), "lago_organization_id": str(alert.organization_id),
        "external_subscription_id": alert.external_subscription_id, "alert_type": alert.alert_type,
        "code": alert.code, "name": alert.name, "direction": "increasing",
        "billable_metric": {"code": alert.billable_metric_code} if alert.billable_metric_code else None,
        "previous_value": float(alert.previous_value),
        "last_processed_at": alert.last_processed_at.isoformat() if alert.last_processed_at else None,
        "thresholds": alert.thresholds, "created_at": alert.created_at.isoformat(),
    }


def _threshold_errors(thresholds: list[ThresholdInput]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for index, threshold in enumerate(thresholds):
        if threshold.recurring and threshold.value == 0:  # it would repeat every 0
            errors[f"thresholds.{index}.value"] = ["value_is_out_of_range"]
    if sum(1 for t in thresholds if t.recurring) > 1:
        errors["thresholds"] = ["only_one_recurring_threshold"]
    return errors


def _rule_errors(data: AlertInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if data.alert_type in METRIC_TYPES and not data.billable_metric_code:
        errors["billable_metric_code"] = ["value_is_mandatory"]
    return {**errors, **_threshold_errors(data.thresholds)}


def _stored(thresholds: list[ThresholdInput]) -> list[dict[str, Any]]:
    return [{"code": t.code, "value": format(t.value, "f"), "recurring": t.recurring} for t in thresholds]


async def _require_subscription(session: AsyncSession, organization_id: uuid.UUID,
                                external_subscription_id: str) -> None:
    if not await subscriptions.exists_by_external_id(session, organization_id, external_subscription_id):
        raise SubscriptionNotFound()


async def _taken_codes(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
                       codes: set[str]) -> set[str]:
    return await repository.taken_alert_codes(session, organization_id, external_subscription_id, codes)


async def create(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
                 data: AlertInput) -> UsageAlert:
    try:
        return (await create_many(session, organization_id, external_subscription_id, [data]))[0]
    except BatchValidationFailed as exc:
        raise ValidationFailed(exc.by_index[0]) from None


async def create_many(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
                      items: list[AlertInput]) -> list[UsageAlert]:
    """All or none (Lago's batch): any invalid alert is a 422 keyed by its index, and nothing is created."""
    await _require_subscription(session, organization_id, external_subscription_id)
    taken = await _taken_codes(session, organization_id, external_subscription_id, {d.code for d in items})
    by_index: dict[int, dict[str, list[str]]] = {}
    for index, data in enumerate(items):
        if errors := _rule_errors(data):
            by_index[index] = errors
        elif data.code in taken:  # stored, or an earlier alert of the same batch
            by_index[index] = {"code": ["value_already_exist"]}
        taken.add(data.code)
    if by_index:
        raise BatchValidationFailed(by_index)
    alerts = [UsageAlert(
        id=uuid7(), organization_id=organization_id, external_subscription_id=external_subscription_id,
        code=data.code, name=data.name, alert_type=data.alert_type,
        billable_metric_code=data.billable_metric_code if data.alert_type in METRIC_TYPES else None,
        thresholds=_stored(data.thresholds), previous_value=Decimal(0),
    ) for data in items]
    session.add_all(alerts)
    await session.flush()
    for alert in alerts:
        await session.refresh(alert)
    return alerts


async def find(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
               code: str | None = None) -> list[UsageAlert]:
    return await repository.find_alerts(session, organization_id, external_subscription_id, code)


async def page(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
               params: PageParams) -> tuple[list[UsageAlert], PaginationMeta]:
    await _require_subscription(session, organization_id, external_subscription_id)
    return await repository.alerts_page(session, organization_id, external_subscription_id, params)


async def get(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
              code: str) -> UsageAlert:
    found = await find(session, organization_id, external_subscription_id, code)
    if not found:
        raise AlertNotFound()
    return found[0]


async def update(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str, code: str,
                 data: AlertUpdateInput) -> UsageAlert:
    """Lago's update: the evaluation state (`previous_value`) is kept, so new thresholds apply from there."""
    alert = await get(session, organization_id, external_subscription_id, code)
    if data.thresholds and (errors := _threshold_errors(data.thresholds)):
        raise ValidationFailed(errors)
    if data.code is not None and data.code != alert.code:
        if await _taken_codes(session, organization_id, external_subscription_id, {data.code}):
            raise AlertCodeTaken()
        alert.code = data.code
    if data.given("name"):
        alert.name = data.name
    if data.billable_metric_code is not None and alert.alert_type in METRIC_TYPES:
        alert.billable_metric_code = data.billable_metric_code
    if data.thresholds:
        alert.thresholds = _stored(data.thresholds)
    await session.flush()
    return alert


async def delete(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
                 code: str) -> UsageAlert:
    alert = await get(session, organization_id, external_subscription_id, code)
    await session.delete(alert)
    await session.flush()
    return alert


async def delete_all(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str) -> int:
    await _require_subscription(session, organization_id, external_subscription_id)
    return await repository.delete_alerts(session, organization_id, external_subscription_id)


def crossed(thresholds: list[dict[str, Any]], previous: Decimal, current: Decimal) -> list[dict[str, Any]]:
    """The thresholds crossed going from `previous` to `current` (recurring ones once per multiple)."""
    hits = []
    fixed = [t for t in thresholds if not t["recurring"]]
    for threshold in sorted(fixed, key=lambda t: Decimal(t["value"])):
        if previous < Decimal(threshold["value"]) <= current:
            hits.append({**threshold})
    base = max((Decimal(t["value"]) for t in fixed), default=Decimal(0))
    for threshold in (t for t in thresholds if t["recurring"]):
        step = Decimal(threshold["value"])
        k = max(1, int((previous - base) // step) + 1) if previous >= base else 1
        while base + k * step <= current:
            if base + k * step > previous:
                hits.append({**threshold, "value": str(base + k * step)})
            k += 1
            if len(hits) > 1000:
                break
    return hits


def value_of(alert: UsageAlert, usage: dict[str, Any]) -> Decimal:
    if alert.alert_type == "current_usage_amount":
        return Decimal(usage["amount_cents"])
    charges = [c for c in usage["charges_usage"] if c["billable_metric"]["code"] == alert.billable_metric_code]
    if alert.alert_type == "billable_metric_current_usage_amount":
        return Decimal(sum(c["amount_cents"] for c in charges))
    return sum((Decimal(c["units"]) for c in charges), Decimal(0))


async def _lifetime_value(session: AsyncSession, subscription: Subscription, usage: dict[str, Any]) -> Decimal:
    rows = await lifetime.subscription_rows(session, subscription.organization_id, subscription.external_id)
    record = await lifetime.record_of(session, subscription.organization_id, subscription.external_id)
    _billed, total = await lifetime.lifetime_total(session, record, rows, usage["amount_cents"])
    return Decimal(total)


ALERT_PARKING = ParkingLot("subscriptions", "usage-alerts", Backoff(initial=30.0, maximum=3600.0))


async def evaluate_alerts(sessionmaker: async_sessionmaker, now: datetime, batch_size: int = 200,
                          parking: ParkingLot = ALERT_PARKING) -> int:
    """Evaluate every alert once, each in its own transaction (a failing one is parked with its error);
    returns how many `alert.triggered` events were published."""
    counts = await parking.each_due(
        sessionmaker,
        lambda session, after, limit: repository.alert_ids(session, after, limit,
                                                           parking.not_parked("usage_alerts.id", now)),
        lambda session, alert_id: _evaluate(session, alert_id, now), batch_size=batch_size, now=now)
    return sum(counts)


async def _evaluate(session: AsyncSession, alert_id: uuid.UUID, now: datetime) -> int:
    alert = await repository.lock_alert_skipping(session, alert_id)
    if alert is None:
        return 0
    subscription = await subscriptions.active_by_external_id(session, alert.organization_id,
                                                            alert.external_subscription_id)
    if subscription is None or subscription.current_period_start is None:
        return 0
    usage = await usage_snapshot(session, subscription, subscription.current_period_start,
                                 subscription.current_period_end)
    if usage is None:
        return 0
    published = 0
    if alert.alert_type == "lifetime_usage_amount":  # never starts again at zero
        previous, current = alert.previous_value, await _lifetime_value(session, subscription, usage)
    else:
        previous = alert.previous_value if alert.period_start == subscription.current_period_start \
            else Decimal(0)
        current = value_of(alert, usage)
    hits = crossed(alert.thresholds, previous, current)
    if hits:
        await add_event(session, type="alert.triggered", organization_id=alert.organization_id,
                        aggregate_type="subscription", aggregate_id=subscription.id,
                        data=AlertTriggered(
                            alert=render(alert), external_subscription_id=alert.external_subscription_id,
                            previous_value=str(previous), current_value=str(current),
                            crossed_thresholds=hits, triggered_at=now))
        published += 1
    alert.previous_value, alert.period_start, alert.last_processed_at = (
        current, subscription.current_period_start, now)
    return published
