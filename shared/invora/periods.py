"""Billing periods in the customer's timezone, for every plan interval, calendar or anniversary (the subscriptions
service's periods; invoicing computes a plan change's new period with the same schedule).

A schedule is a sequence of period start *dates* in the customer's timezone, indexed by an
integer n: period n runs from local midnight of start(n) to local midnight of start(n + 1),
converted to UTC. Periods therefore tile time with no gap or overlap whatever the DST rules.

- calendar: weeks start on Monday; months on the 1st; quarters on 1 Jan/Apr/Jul/Oct; half-years
  on 1 Jan/Jul; years on 1 Jan (Lago).
- anniversary: periods start on the subscription date's weekday (weekly) or day of month,
  every 1/3/6/12 months from its month. A day the month lacks is clamped to the month's last
  day, from the anchor each time: started on 31 Jan → 28/29 Feb, 31 Mar, 30 Apr, … (Lago's
  `build_date`); started on 29 Feb → 28 Feb in common years, 29 Feb in leap years.

A subscription's own periods are the schedule's, cut by its start (the first period begins when
the subscription started) and its termination (the last one ends then).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

Interval = Literal["weekly", "monthly", "quarterly", "semiannual", "yearly"]
BillingTime = Literal["calendar", "anniversary"]
INTERVALS: tuple[str, ...] = ("weekly", "monthly", "quarterly", "semiannual", "yearly")
BILLING_TIMES: tuple[str, ...] = ("calendar", "anniversary")

_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "yearly": 12}
_PER_YEAR = {"weekly": 52, "monthly": 12, "quarterly": 4, "semiannual": 2, "yearly": 1}
_CALENDAR_WEEK_ANCHOR = date(2001, 1, 1)  # a Monday
_CALENDAR_MONTH_ANCHOR = date(2000, 1, 1)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_midnight(day: date, timezone: str) -> datetime:
    """The UTC instant at which `day` begins in `timezone` (a skipped midnight: the transition instant)."""
    return datetime(day.year, day.month, day.day, tzinfo=_zone(timezone)).astimezone(UTC)


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(_zone(timezone)).date()


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval of time [start, end), both UTC."""

    start: datetime
    end: datetime

    def __contains__(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Schedule:
    interval: str
    billing_time: str
    anchor: date
    timezone: str

    @classmethod
    def of(cls, interval: str, billing_time: str, subscription_at: datetime, timezone: str) -> Schedule:
        if interval not in INTERVALS:
            raise ValueError(f"unknown interval {interval!r}")
        if billing_time not in BILLING_TIMES:
            raise ValueError(f"unknown billing time {billing_time!r}")
        _zone(timezone)
        if billing_time == "anniversary":
            anchor = local_date(subscription_at, timezone)
        else:
            anchor = _CALENDAR_WEEK_ANCHOR if interval == "weekly" else _CALENDAR_MONTH_ANCHOR
        return cls(interval, billing_time, anchor, timezone)

    # -- dates ------------------------------------------------------------------------------------
    def start_date(self, n: int) -> date:
        """Local start date of period n (period 0 starts on the anchor)."""
        if self.interval == "weekly":
            return self.anchor + timedelta(days=7 * n)
        months = self.anchor.month - 1 + _MONTHS[self.interval] * n
        return _clamped(self.anchor.year + months // 12, months % 12 + 1, self.anchor.day)

    def index_of(self, day: date) -> int:
        """The n whose period holds local date `day`."""
        if self.interval == "weekly":
            return (day - self.anchor).days // 7
        diff = (day.year - self.anchor.year) * 12 + day.month - self.anchor.month
        n = diff // _MONTHS[self.interval]
        if self.start_date(n) > day:
            n -= 1
        return n

    # -- instants ---------------------------------------------------------------------------------
    def period(self, n: int) -> Period:
        return Period(local_midnight(self.start_date(n), self.timezone),
                      local_midnight(self.start_date(n + 1), self.timezone))

    def index_at(self, instant: datetime) -> int:
        n = self.index_of(local_date(instant, self.timezone))
        # a local date whose midnight was skipped by DST may begin after the instant's wall date implies
        while self.period(n).start > instant:
            n -= 1
        while self.period(n).end <= instant:
            n += 1
        return n

    def period_at(self, instant: datetime) -> Period:
        """The full (uncut) period holding `instant`."""
        return self.period(self.index_at(instant))


def subscription_period(schedule: Schedule, started_at: datetime, instant: datetime,
                        terminated_at: datetime | None = None) -> Period:
    """The subscription's own period holding `instant`: cut by its start and its termination."""
    full = schedule.period_at(instant)
    start = max(full.start, started_at)
    end = full.end if terminated_at is None else min(full.end, terminated_at)
    return Period(start, end)


def subscription_periods(schedule: Schedule, started_at: datetime, until: datetime,
                         terminated_at: datetime | None = None) -> Iterator[Period]:
    """Every period of the subscription from its start that begins before `until` (and before termination)."""
    n = schedule.index_at(started_at)
    stop = until if terminated_at is None else min(until, terminated_at)
    while True:
        full = schedule.period(n)
        start = max(full.start, started_at)
        if start >= stop:
            return
        end = full.end if terminated_at is None else min(full.end, terminated_at)
        yield Period(start, end)
        n += 1


def presented_end(end: datetime) -> datetime:
    """How the API shows a period's end: the last second before it, i.e. the local end of day
    (`2027-01-01T07:59:59Z` for a Los Angeles calendar month), as Lago does. Periods stay half-open
    [start, end) inside; only the rendering changes."""
    return end - timedelta(seconds=1)


def lago_days_between(start: datetime, end: datetime, timezone: str) -> int:
    """Whole days from `start` to `end` in `timezone`, a started day counting as one: Lago's
    `Utils::Datetime.date_diff_with_timezone` (an `end` at local midnight counts the day it opens,
    and the DST offsets of the two instants are cancelled out)."""
    zone = _zone(timezone)
    local_end = end.astimezone(zone)
    if (local_end.hour, local_end.minute, local_end.second, local_end.microsecond) == (0, 0, 0, 0):
        end += timedelta(seconds=1)
    offset = start.astimezone(zone).utcoffset() - end.astimezone(zone).utcoffset()
    seconds = Decimal((end - start - offset) // timedelta(microseconds=1)) / Decimal(86_400_000_000)
    return int(seconds.to_integral_value(rounding=ROUND_CEILING))


def trial_end(started_at: datetime, trial_period_days: Decimal | int | str | None) -> datetime | None:
    """When a trial of `trial_period_days` (possibly fractional) started at `started_at` ends."""
    if trial_period_days is None:
        return None
    days = Decimal(str(trial_period_days))
    if days <= 0:
        return None
    return started_at + timedelta(seconds=int(days * 86400))


def yearly_amount_cents(interval: str, amount_cents: int) -> int:
    """The plan's price over a year: Lago's yardstick for upgrade (>=) versus downgrade (<)."""
    return amount_cents * _PER_YEAR[interval]
