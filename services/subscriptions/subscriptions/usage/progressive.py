"""Progressive billing: `subscription.usage_threshold_reached` when lifetime usage crosses a usage threshold.

Lago issues a `progressive_billing` invoice when a subscription's lifetime usage (the tenant's historical
amount + what its closed periods billed + the open period's usage, before taxes) reaches one of its usage
thresholds (the subscription's own, else its plan version's; a recurring threshold at every multiple of its
amount above the highest fixed one). Here each scheduler pass evaluates the subscriptions that have thresholds,
one transaction each (rows locked, a failing one parked), and publishes, in the transaction that records the
highest amount crossed (`lifetime_usages.progressive_billed_threshold_cents`), one event carrying the open
period's usage so far: invoicing bills it (less the period's earlier progressive invoices). A pass that crosses
several amounts at once publishes one event (the highest amount; all of them listed), as one invoice covers them.

Latency: a crossing is seen at the next pass (`scheduler_interval_seconds`), not at the event that caused it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.events.contracts.subscriptions import UsageSnapshot, UsageThresholdReached
from invora.logging import get_logger
from invora.outbox import add_event
from invora.parking import Backoff, ParkingLot
from subscriptions.plans import repository as plans
from subscriptions.subscriptions import repository as subscriptions
from subscriptions.subscriptions.lifecycle import render
from subscriptions.usage import lifetime, repository
from subscriptions.usage.snapshot import usage_snapshot

log = get_logger(__name__)
EVENT_TYPE = "subscription.usage_threshold_reached"
PROGRESSIVE_PARKING = ParkingLot("subscriptions", "progressive-billing", Backoff(initial=30.0, maximum=3600.0))
MAX_STEPS = 10_000  # recurring multiples examined per evaluation


def thresholds(version: dict[str, Any] | None, overrides: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The thresholds as sold (with their ids and names): the subscription's overrides, else the plan's."""
    chosen = (overrides or {}).get("usage_thresholds")
    if chosen is None:
        chosen = (version or {}).get("usage_thresholds") or []
    return [dict(t) for t in chosen if int(t.get("amount_cents") or 0) > 0]


def crossed(found: list[dict[str, Any]], previous: int, total: int) -> list[tuple[int, dict[str, Any]]]:
    """The amounts in (previous, total] that are thresholds (recurring: each multiple above the highest fixed
    one), ascending, each with the threshold it belongs to."""
    fixed = sorted((t for t in found if not t.get("recurring")), key=lambda t: int(t["amount_cents"]))
    hits = [(int(t["amount_cents"]), t) for t in fixed if previous < int(t["amount_cents"]) <= total]
    recurring = next((t for t in found if t.get("recurring")), None)
    if recurring is not None:
        step = int(recurring["amount_cents"])
        base = int(fixed[-1]["amount_cents"]) if fixed else 0
        k = max(1, (previous - base) // step + 1) if previous >= base else 1
        steps = 0
        while base + k * step <= total and steps < MAX_STEPS:
            hits.append((base + k * step, recurring))
            k += 1
            steps += 1
    return hits


async def evaluate(sessionmaker: async_sessionmaker, now: datetime, batch_size: int = 200,
                   parking: ParkingLot = PROGRESSIVE_PARKING) -> int:
    """One pass over the subscriptions with thresholds; returns how many crossings were published."""
    counts = await parking.each_due(sessionmaker, repository.subscriptions_with_thresholds,
                                    lambda session, subscription_id: _evaluate(session, subscription_id, now),
                                    batch_size=batch_size, now=now, refresh_metric=False)
    return sum(counts)


async def _evaluate(session: AsyncSession, subscription_id: uuid.UUID, now: datetime) -> int:
    subscription = await subscriptions.lock_skipping(session, subscription_id)
    if subscription is None or subscription.status != "active" or subscription.current_period_start is None:
        return 0
    version = await plans.cached_plan_version(session, subscription.organization_id, subscription.plan_version_id)
    found = thresholds(version, subscription.plan_overrides)
    if not found:
        return 0
    usage = await usage_snapshot(session, subscription, subscription.current_period_start,
                                 subscription.current_period_end)
    if usage is None:
        return 0
    record = await lifetime.record_of(session, subscription.organization_id, subscription.external_id)
    rows = await lifetime.subscription_rows(session, subscription.organization_id, subscription.external_id)
    _billed, total = await lifetime.lifetime_total(session, record, rows, usage["amount_cents"])
    hits = crossed(found, record.progressive_billed_threshold_cents, total)
    if not hits:
        return 0
    amount, threshold = hits[-1]
    record.progressive_billed_threshold_cents = amount
    record.updated_at = now
    await add_event(session, type=EVENT_TYPE, organization_id=subscription.organization_id,
                    aggregate_type="subscription", aggregate_id=subscription.id, data=UsageThresholdReached(
                        subscription=render(subscription),
                        usage_threshold={**threshold, "amount_cents": amount},
                        crossed_amount_cents=amount, crossed_amounts_cents=[a for a, _ in hits],
                        lifetime_usage_amount_cents=total, lago_plan_version_id=subscription.plan_version_id,
                        period_start=subscription.current_period_start, period_end=subscription.current_period_end,
                        reached_at=now, usage=UsageSnapshot.model_validate(usage)))
    log.info("usage_threshold_reached", subscription_id=str(subscription.id), amount_cents=amount, total=total)
    return 1
