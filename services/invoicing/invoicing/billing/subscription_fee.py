"""The subscription fee of one (partial) billing period.

    days_in_period = local days of the schedule's full period [full_start, full_end)
    days_billed    = local days of [max(start, trial_end), end), the day of a mid-day end counted
    amount         = plan amount × days_billed / days_in_period, rounded once half-up

Days are calendar days in the customer's timezone. A period that starts mid-day counts its first
day; one that ends mid-day (termination, upgrade) counts its last day, as Lago does; an end at local
midnight is exclusive. A trial ending mid-day bills its last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from invora.pricing.proration import prorate_cents

_TICK = timedelta(microseconds=1)


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def start_of_local_day(instant: datetime, timezone: str) -> datetime:
    """Local midnight of the instant's local date (an upgrade's day belongs to the new plan: Lago)."""
    day = local_date(instant, timezone)
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone))


def local_days(start: datetime, end: datetime, timezone: str) -> int:
    """Days of [start, end) in local dates: the first day counts, the last counts unless `end` is midnight."""
    if end <= start:
        return 0
    return (local_date(end - _TICK, timezone) - local_date(start, timezone)).days + 1


@dataclass(frozen=True, slots=True)
class SubscriptionFeeAmount:
    amount_cents: int
    days_billed: int
    days_in_period: int
    from_datetime: datetime
    to_datetime: datetime

    @property
    def ratio(self) -> Decimal:
        return Decimal(self.days_billed) / Decimal(self.days_in_period)


def subscription_fee(amount_cents: int, currency: str, *, full_start: datetime, full_end: datetime,
                     start: datetime, end: datetime, timezone: str,
                     trial_ends_at: datetime | None = None) -> SubscriptionFeeAmount:
    """The fee for [start, end) of the full period [full_start, full_end), trial days excluded."""
    days_in_period = max(local_days(full_start, full_end, timezone), 1)
    billed_from = max(start, trial_ends_at) if trial_ends_at is not None else start
    days = min(local_days(billed_from, end, timezone), days_in_period)
    whole = days == days_in_period
    amount = amount_cents if whole else prorate_cents(amount_cents, currency, days, days_in_period)
    return SubscriptionFeeAmount(amount, days, days_in_period, billed_from, end)


_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "yearly": 12}


def calendar_period(instant: datetime, interval: str, timezone: str) -> tuple[datetime, datetime]:
    """The calendar-aligned period holding `instant` (a subscription's first period, billed in advance)."""
    zone = ZoneInfo(timezone)
    day = instant.astimezone(zone).date()
    if interval == "weekly":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    else:
        months = _MONTHS[interval]
        month0 = (day.month - 1) // months * months
        first = date(day.year, month0 + 1, 1)
        year, month = divmod(month0 + months, 12)
        last = date(day.year + year, month + 1, 1)
    return (datetime(first.year, first.month, first.day, tzinfo=zone),
            datetime(last.year, last.month, last.day, tzinfo=zone))
