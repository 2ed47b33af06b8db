"""The rollup bucket of an event: the full billing period holding its timestamp.

Finding a period is calendar and timezone arithmetic (≈ 20 µs). A batch spreads over hundreds of
subscriptions that mostly share a few schedules (calendar billing in one timezone) and fall in one
or two periods, so schedules and their recent periods are kept per process, bounded. Both are
pure functions of (interval, billing time, anchor, timezone): nothing to invalidate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

from invora.periods import Period, Schedule

SCHEDULES_KEPT = 65_536  # anniversary schedules: one per start date, interval and timezone
PERIODS_PER_SCHEDULE = 8  # the open period, the one before (late events), a few more
_ANY_DATE = datetime(2000, 1, 1, tzinfo=UTC)  # a calendar schedule does not depend on the start


class Scheduled(Protocol):
    """What a subscription's schedule is made of (the ORM row and `EventSubscription` both have it)."""

    plan_interval: str
    billing_time: str
    subscription_at: datetime
    timezone: str


@lru_cache(maxsize=SCHEDULES_KEPT)
def _schedule(interval: str, billing_time: str, subscription_at: datetime, timezone: str) -> Schedule:
    return Schedule.of(interval, billing_time, subscription_at, timezone)


def schedule_for(subscription: Scheduled) -> Schedule:
    """The subscription's billing schedule, as `lifecycle.schedule_of` (which imports this module's users)."""
    anniversary = subscription.billing_time == "anniversary"
    return _schedule(subscription.plan_interval, subscription.billing_time,
                     subscription.subscription_at if anniversary else _ANY_DATE, subscription.timezone)


_periods: dict[Schedule, list[Period]] = {}


def period_at(schedule: Schedule, instant: datetime) -> Period:
    """`schedule.period_at(instant)`, from the periods recently met on this schedule when it is one of them."""
    seen = _periods.get(schedule)
    if seen is None:
        if len(_periods) >= SCHEDULES_KEPT:
            del _periods[next(iter(_periods))]  # the oldest schedule met
        seen = _periods[schedule] = []
    for period in seen:
        if period.start <= instant < period.end:
            return period
    period = schedule.period_at(instant)
    seen.insert(0, period)
    del seen[PERIODS_PER_SCHEDULE:]
    return period


def locate(subscription: Scheduled, open_start: datetime | None, instant: datetime) -> tuple[datetime, bool]:
    """The start of the full period holding `instant`, and whether that period is already closed
    (it begins before the full period holding `open_start`, the subscription's open period)."""
    schedule = schedule_for(subscription)
    start = period_at(schedule, instant).start
    if open_start is None or start >= open_start:
        return start, False
    return start, start < period_at(schedule, open_start).start
