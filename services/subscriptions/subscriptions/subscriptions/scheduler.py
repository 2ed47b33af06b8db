"""The billing-period scheduler: activates pending subscriptions, ends trials, closes periods, applies
scheduled downgrades and `ending_at` terminations; then evaluates usage alerts and publishes the
usage revisions of closed periods that events reached late (`usage.revisions`).

One bad row never blocks the others: each due subscription is handled in its own transaction,
and one that fails is rolled back alone and parked with its error (`invora.parking`, loop
`scheduler`; the alert and revision passes park theirs as `usage-alerts` and `usage-revisions`),
retried on an exponential back-off, and shown by the `parked_items` gauge.

Exactly once with any number of replicas: each due subscription is locked with `FOR UPDATE SKIP
LOCKED` (a replica never waits for, nor touches, a row another is handling), re-read under the
lock, and each period's close is an insert into `billing_periods` keyed by (subscription,
period_start) that does nothing when the row exists; the close, the subscription's new state and
the outbox event commit together, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora import background
from invora.logging import get_logger
from invora.parking import Backoff, ParkingLot
from subscriptions.subscriptions import lifecycle, repository
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage.alerts import evaluate_alerts
from subscriptions.usage.progressive import evaluate as evaluate_progressive_billing
from subscriptions.usage.revisions import revise_usage

log = get_logger(__name__)
# a parked subscription is retried after 30 s, then 1, 2, 4 ... minutes, at most hourly
SCHEDULER_PARKING = ParkingLot("subscriptions", "scheduler", Backoff(initial=30.0, maximum=3600.0))
MAX_CATCH_UP = 1000  # periods closed for one subscription in one pass (years of downtime on weekly plans)


@dataclass
class PassReport:
    activated: int = 0
    periods_closed: int = 0
    terminated: int = 0
    trials_ended: int = 0

    def __iadd__(self, other: PassReport) -> PassReport:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    @property
    def total(self) -> int:
        return self.activated + self.periods_closed + self.terminated + self.trials_ended


async def advance(session: AsyncSession, subscription: Subscription, now: datetime,
                  report: PassReport | None = None) -> None:
    """Bring one active subscription up to `now` (a backdated creation closes its past periods itself:
    `lifecycle.close_past_periods`)."""
    report = report if report is not None else PassReport()
    for _ in range(MAX_CATCH_UP):
        if subscription.status != "active":
            return
        if (subscription.trial_ends_at is not None and subscription.trial_ended_at is None
                and subscription.trial_ends_at <= now):
            subscription.trial_ended_at = subscription.trial_ends_at
            await lifecycle.publish(session, subscription, "subscription.trial_ended")
            report.trials_ended += 1
        end = subscription.current_period_end
        if subscription.ending_at is not None and subscription.ending_at <= now and subscription.ending_at <= end:
            await lifecycle.terminate(session, subscription, subscription.ending_at, reason="ending_at")
            report.terminated += 1
            report.periods_closed += 1
            return
        if end > now:
            return
        if subscription.next_subscription_id is not None:
            await _apply_downgrade(session, subscription, end, report)
            return
        if await lifecycle.close_period(session, subscription, end, "period_end"):
            report.periods_closed += 1
        lifecycle.advance_period(subscription)
        subscription.updated_at = now
    log.warning("subscription_catch_up_incomplete", subscription_id=str(subscription.id))


async def _apply_downgrade(session: AsyncSession, current: Subscription, at: datetime, report: PassReport) -> None:
    if await lifecycle.close_period(session, current, at, "period_end"):
        report.periods_closed += 1
    following = await repository.get_for_update(session, current.next_subscription_id)
    await lifecycle.terminate(session, current, at, reason="downgrade")
    report.terminated += 1
    if following is not None and following.status == "pending":
        await lifecycle.activate(session, following, at, None, reason="downgrade")
        report.activated += 1


async def run_pass(sessionmaker: async_sessionmaker, now: datetime, batch_size: int = 100,
                   parking: ParkingLot = SCHEDULER_PARKING) -> PassReport:
    """One scheduler pass at `now`: every due subscription handled, each in its own transaction.

    A subscription that fails (say, stored data the pricing engine refuses) is rolled back alone and
    parked with its error (`invora.parking`): the pass goes on with the others, and skips it until
    its back-off runs out.
    """
    async def handled(session: AsyncSession, subscription_id: uuid.UUID) -> PassReport:
        one = PassReport()
        await _handle(session, subscription_id, now, one)
        return one

    report = PassReport()
    for one in await parking.each_due(
            sessionmaker,
            lambda session, after, limit: repository.due_ids(session, now, after, limit,
                                                             parking.not_parked("subscriptions.id", now)),
            handled, batch_size=batch_size, now=now):
        report += one
    return report


async def _handle(session: AsyncSession, subscription_id: uuid.UUID, now: datetime, report: PassReport) -> None:
    # re-read under the lock: another replica may hold it (skipped) or have handled it (no longer due)
    subscription = await repository.claim_due(session, subscription_id, now)
    if subscription is None:
        return
    if subscription.status == "pending":
        await lifecycle.activate(session, subscription, subscription.subscription_at, subscription.trial_period_days)
        report.activated += 1
    await advance(session, subscription, now, report)


def scheduler_lifespan():
    """Background piece of the app: a pass every `scheduler_interval_seconds` when enabled."""

    def factory(app: FastAPI):
        @contextlib.asynccontextmanager
        async def running() -> AsyncIterator[None]:
            runtime = app.state.runtime
            settings = runtime.settings
            if not settings.scheduler_enabled:
                yield
                return

            def database() -> async_sessionmaker[AsyncSession]:
                return app.state.database.sessionmaker

            passes = {
                "scheduler_pass": lambda: run_pass(database(), runtime.clock.now(), settings.scheduler_batch_size),
                "alert_pass": lambda: evaluate_alerts(database(), runtime.clock.now()),
                "progressive_billing_pass": lambda: evaluate_progressive_billing(database(), runtime.clock.now()),
                "usage_revision_pass": lambda: revise_usage(database(), settings.usage_revision_grace_seconds),
            }
            async with background.repeat("subscriptions-scheduler", passes, settings.scheduler_interval_seconds):
                yield

        return running()

    return factory
