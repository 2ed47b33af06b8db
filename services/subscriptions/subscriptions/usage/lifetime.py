"""Lifetime usage of a subscription (Lago's `lifetime_usage`), what progressive billing and
`lifetime_usage_amount` alerts measure against.

total = the historical amount the tenant declares (usage from before Invora)
      + the usage amount every closed billing period of the subscription billed (recorded when the
        period closed, from the same snapshot `subscription.billing_period_ended` carries; every
        plan change keeps the external id, so all of them count)
      + the open period's current usage amount.
Amounts are before taxes, in the plan's currency's minor units. A threshold's `reached_at` is the
first time a read of the lifetime usage saw the total at or above it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions import repository
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage import current
from subscriptions.usage import repository as usage_repository
from subscriptions.usage.lifetime_models import LifetimeUsage
from subscriptions.usage_events.metrics import MetricCache


async def subscription_rows(session: AsyncSession, organization_id: uuid.UUID,
                            external_id: str) -> list[Subscription]:
    """Every subscription row sharing the external id (plan changes), oldest first."""
    rows = list(await repository.all_by_external_id(session, organization_id, external_id))
    if not rows:
        raise SubscriptionNotFound()
    return rows


def current_of(rows: list[Subscription]) -> Subscription:
    """The active row if there is one, else the newest."""
    return next((s for s in rows if s.status == "active"), rows[-1])


async def record_of(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> LifetimeUsage:
    """The lifetime record, created on first use (concurrent first uses create one)."""
    return await usage_repository.lifetime_record(session, organization_id, external_id)


async def billed_amount(session: AsyncSession, rows: list[Subscription]) -> int:
    return await repository.billed_usage_amount(session, [s.id for s in rows])


def thresholds_of(version: dict[str, Any] | None, overrides: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The subscription's usage thresholds: its overrides' when it has some, else its plan version's."""
    chosen = (overrides or {}).get("usage_thresholds")
    if chosen is None:
        chosen = (version or {}).get("usage_thresholds") or []
    return [{"amount_cents": int(t["amount_cents"]), "recurring": bool(t.get("recurring", False))} for t in chosen]


def threshold_progress(thresholds: list[dict[str, Any]], total: int, reached: dict[str, Any],
                       now: datetime) -> list[dict[str, Any]]:
    """Lago's `LifetimeUsageThresholdObject`s; a recurring threshold is shown at its next step.

    Marks newly reached amounts in `reached` (mutated) with `now`.
    """
    fixed = sorted(t["amount_cents"] for t in thresholds if not t["recurring"])
    points = list(fixed)
    step = next((t["amount_cents"] for t in thresholds if t["recurring"]), None)
    if step:
        base = fixed[-1] if fixed else 0
        passed = max(0, (total - base) // step) if total >= base else 0
        points += [base + k * step for k in range(1, passed + 2)]  # every step reached, and the next one
    result = []
    for amount in points:
        if amount <= 0:
            continue
        if total >= amount:
            reached.setdefault(str(amount), now.isoformat())
        ratio = min(Decimal(total) / Decimal(amount), Decimal(1)).quantize(Decimal("0.0001"), ROUND_DOWN)
        result.append({"amount_cents": amount, "completion_ratio": float(ratio),
                       "reached_at": reached.get(str(amount))})
    return result


async def lifetime_total(session: AsyncSession, record: LifetimeUsage, rows: list[Subscription],
                         current_amount_cents: int) -> tuple[int, int]:
    """(billed by closed periods, total)."""
    billed = await billed_amount(session, rows)
    return billed, record.external_historical_usage_amount_cents + billed + current_amount_cents


def render(record: LifetimeUsage, subscription: Subscription, billed: int, current_amount_cents: int,
           thresholds: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    started = subscription.started_at or subscription.subscription_at
    return {
        "lago_id": str(record.id), "lago_subscription_id": str(subscription.id),
        "external_subscription_id": record.external_subscription_id,
        "external_historical_usage_amount_cents": record.external_historical_usage_amount_cents,
        "invoiced_usage_amount_cents": billed, "current_usage_amount_cents": current_amount_cents,
        "amount_currency": subscription.plan_amount_currency,
        "from_datetime": started.isoformat() if started else None, "to_datetime": now.isoformat(),
        "usage_thresholds": thresholds,
    }


async def answer(session: AsyncSession, catalog: CatalogClient, metrics: MetricCache, organization_id: uuid.UUID,
                 external_id: str, clock: datetime, historical: int | None = None) -> dict[str, Any]:
    """The `lifetime_usage` answer of a read, or of an update of the historical amount (`historical`)."""
    rows = await subscription_rows(session, organization_id, external_id)
    subscription = current_of(rows)
    record = await record_of(session, organization_id, external_id)
    if historical is not None:
        record.external_historical_usage_amount_cents = historical
        record.updated_at = clock
    current_amount = 0
    if subscription.status == "active" and subscription.current_period_start is not None:
        usage = await current.current_usage(session, catalog, metrics, subscription, clock, apply_taxes=False)
        current_amount = usage["amount_cents"]
    version = await catalog.plan_version(session, organization_id, subscription.plan_version_id)
    billed, total = await lifetime_total(session, record, rows, current_amount)
    reached = dict(record.thresholds_reached)
    thresholds = threshold_progress(thresholds_of(version, subscription.plan_overrides), total, reached, clock)
    if reached != record.thresholds_reached:
        record.thresholds_reached = reached
    return {"lifetime_usage": render(record, subscription, billed, current_amount, thresholds, clock)}
