"""Usage alerts: definitions per subscription (Lago's `alerts`) and their evaluation.

Evaluation runs with the scheduler (`evaluate_alerts`), off the ingestion path: each alert's value
(the current period's usage amount in cents, one metric's amount or units) is compared with the
value seen last time in the same period; every threshold in (previous, current] is crossed, and
a recurring threshold crosses at every multiple of its value above the highest fixed threshold.
Crossings publish one `alert.triggered` per evaluation, in the transaction that stores the new
value (alert rows claimed `FOR UPDATE SKIP LOCKED`), so each crossing is published once. A new
period starts again from 0.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.errors import NotFound, ValidationFailed
from invora.ids import uuid7
from invora.logging import get_logger
from invora.outbox import add_event
from subscriptions.common.inputs import Code, InputModel, Name
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage import lifetime
from subscriptions.usage.alert_models import UsageAlert
from subscriptions.usage.snapshot import usage_snapshot

log = get_logger(__name__)
AlertType = Literal["current_usage_amount", "billable_metric_current_usage_amount",
                    "billable_metric_current_usage_units", "lifetime_usage_amount"]
METRIC_TYPES = ("billable_metric_current_usage_amount", "billable_metric_current_usage_units")


class ThresholdInput(InputModel):
    code: Code | None = None
    value: str | int | float
    recurring: bool = False

    @field_validator("value")
    @classmethod
    def _positive(cls, value: Any) -> str:
        try:
            parsed = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError("value_is_invalid") from exc
        if not parsed.is_finite() or parsed <= 0 or parsed >= Decimal(10) ** 20:
            raise ValueError("value_is_out_of_range")
        return str(parsed)


class AlertInput(InputModel):
    alert_type: AlertType
    code: Code
    name: Name | None = None
    billable_metric_code: Code | None = None
    thresholds: list[ThresholdInput] = Field(min_length=1, max_length=20)


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


async def create(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
                 data: AlertInput) -> UsageAlert:
    exists = (await session.execute(select(Subscription.id).where(
        Subscription.organization_id == organization_id, Subscription.external_id == external_subscription_id,
    ).limit(1))).scalar_one_or_none()
    if exists is None:
        raise NotFound("subscription")
    errors: dict[str, list[str]] = {}
    if data.alert_type in METRIC_TYPES and not data.billable_metric_code:
        errors["billable_metric_code"] = ["value_is_mandatory"]
    if sum(1 for t in data.thresholds if t.recurring) > 1:
        errors["thresholds"] = ["only_one_recurring_threshold"]
    if errors:
        raise ValidationFailed(errors)
    taken = (await session.execute(select(UsageAlert.id).where(
        UsageAlert.organization_id == organization_id,
        UsageAlert.external_subscription_id == external_subscription_id, UsageAlert.code == data.code,
    ))).scalar_one_or_none()
    if taken is not None:
        raise ValidationFailed(code=["value_already_exist"])
    alert = UsageAlert(
        id=uuid7(), organization_id=organization_id, external_subscription_id=external_subscription_id,
        code=data.code, name=data.name, alert_type=data.alert_type,
        billable_metric_code=data.billable_metric_code if data.alert_type in METRIC_TYPES else None,
        thresholds=[{"code": t.code, "value": t.value, "recurring": t.recurring} for t in data.thresholds],
        previous_value=Decimal(0),
    )
    session.add(alert)
    await session.flush()
    await session.refresh(alert)
    return alert


async def find(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
               code: str | None = None) -> list[UsageAlert]:
    statement = select(UsageAlert).where(UsageAlert.organization_id == organization_id,
                                         UsageAlert.external_subscription_id == external_subscription_id)
    if code is not None:
        statement = statement.where(UsageAlert.code == code)
    return list((await session.execute(statement.order_by(UsageAlert.created_at, UsageAlert.id))).scalars())


async def delete(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
                 code: str) -> UsageAlert:
    found = await find(session, organization_id, external_subscription_id, code)
    if not found:
        raise NotFound("alert")
    await session.delete(found[0])
    await session.flush()
    return found[0]


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


async def evaluate_alerts(sessionmaker: async_sessionmaker, now: datetime, batch_size: int = 200) -> int:
    """Evaluate every alert once; returns how many `alert.triggered` events were published."""
    published = 0
    after = uuid.UUID(int=0)
    while True:
        async with sessionmaker() as session, session.begin():
            alerts = list((await session.execute(
                select(UsageAlert).where(UsageAlert.id > after).order_by(UsageAlert.id).limit(batch_size)
                .with_for_update(skip_locked=True))).scalars())
            for alert in alerts:
                subscription = (await session.execute(select(Subscription).where(
                    Subscription.organization_id == alert.organization_id,
                    Subscription.external_id == alert.external_subscription_id, Subscription.status == "active",
                ))).scalar_one_or_none()
                if subscription is None or subscription.current_period_start is None:
                    continue
                try:
                    usage = await usage_snapshot(session, subscription, subscription.current_period_start,
                                                 subscription.current_period_end)
                except Exception:  # one broken alert must not stop the others
                    log.exception("alert_evaluation_failed", alert_id=str(alert.id))
                    continue
                if usage is None:
                    continue
                if alert.alert_type == "lifetime_usage_amount":  # never starts again at zero
                    previous, current = alert.previous_value, await _lifetime_value(session, subscription, usage)
                else:
                    previous = alert.previous_value if alert.period_start == subscription.current_period_start \
                        else Decimal(0)
                    current = value_of(alert, usage)
                hits = crossed(alert.thresholds, previous, current)
                if hits:
                    await add_event(session, type="alert.triggered", organization_id=alert.organization_id,
                                    aggregate_type="subscription", aggregate_id=subscription.id, data={
                                        "alert": render(alert), "external_subscription_id":
                                        alert.external_subscription_id, "previous_value": str(previous),
                                        "current_value": str(current), "crossed_thresholds": hits,
                                        "triggered_at": now.isoformat()})
                    published += 1
                alert.previous_value, alert.period_start, alert.last_processed_at = (
                    current, subscription.current_period_start, now)
        if len(alerts) < batch_size:
            return published
        after = alerts[-1].id
