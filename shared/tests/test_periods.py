"""Billing-period maths: fixed vectors and properties (hypothesis)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invora.periods import (
    INTERVALS,
    Schedule,
    local_date,
    local_midnight,
    subscription_period,
    subscription_periods,
    trial_end,
)

ZONES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})
TRICKY_ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kathmandu",
                "America/Santiago", "America/Havana", "Asia/Tehran", "Pacific/Chatham", "America/St_Johns"]

instants = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
                        timezones=st.just(UTC))
zones = st.one_of(st.sampled_from(TRICKY_ZONES), st.sampled_from(ZONES))
schedules = st.builds(Schedule.of, st.sampled_from(INTERVALS), st.sampled_from(["calendar", "anniversary"]),
                      instants, zones)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_dates(schedule: Schedule, n: int) -> tuple[date, date]:
    period = schedule.period(n)
    return local_date(period.start, schedule.timezone), local_date(period.end, schedule.timezone)


# -- properties ----------------------------------------------------------------------------------------

@SETTINGS
@given(schedules, instants)
def test_every_instant_falls_in_exactly_one_period(schedule: Schedule, instant: datetime):
    n = schedule.index_at(instant)
    assert instant in schedule.period(n)
    assert instant not in schedule.period(n - 1)
    assert instant not in schedule.period(n + 1)


@SETTINGS
@given(schedules, instants, st.integers(min_value=1, max_value=30))
def test_periods_tile_time_without_gaps_or_overlaps(schedule: Schedule, instant: datetime, count: int):
    n = schedule.index_at(instant)
    periods = [schedule.period(i) for i in range(n, n + count)]
    for before, after in zip(periods, periods[1:], strict=False):
        assert before.end == after.start
        assert before.start < before.end


@SETTINGS
@given(schedules, instants)
def test_periods_start_at_local_midnight_on_the_schedule(schedule: Schedule, instant: datetime):
    period = schedule.period_at(instant)
    start_day = local_date(period.start, schedule.timezone)
    assert local_midnight(start_day, schedule.timezone) == period.start
    if schedule.billing_time == "calendar":
        if schedule.interval == "weekly":
            assert start_day.weekday() == 0
        else:
            assert start_day.day == 1
            step = {"monthly": 1, "quarterly": 3, "semiannual": 6, "yearly": 12}[schedule.interval]
            assert (start_day.month - 1) % step == 0
    elif schedule.interval == "weekly":
        assert start_day.weekday() == schedule.anchor.weekday()
    else:
        # the anchor's day of month, or the month's last day when the month is shorter
        assert start_day.day == schedule.anchor.day or (
            start_day.day < schedule.anchor.day and (start_day + timedelta(days=1)).day == 1)


@SETTINGS
@given(schedules, instants)
def test_period_lengths_are_plausible(schedule: Schedule, instant: datetime):
    start, end = local_dates(schedule, schedule.index_at(instant))
    days = (end - start).days
    expected = {"weekly": (7, 7), "monthly": (28, 31), "quarterly": (89, 92), "semiannual": (181, 184),
                "yearly": (365, 366)}[schedule.interval]
    assert expected[0] <= days <= expected[1]


@SETTINGS
@given(schedules, instants, st.integers(min_value=0, max_value=400 * 86400), st.integers(min_value=1, max_value=800))
def test_subscription_periods_cover_its_life_exactly(schedule: Schedule, started_at: datetime, life: int, probe: int):
    terminated_at = started_at + timedelta(seconds=life + 1)
    periods = list(subscription_periods(schedule, started_at, terminated_at + timedelta(days=1), terminated_at))
    assert periods[0].start == started_at and periods[-1].end == terminated_at
    for before, after in zip(periods, periods[1:], strict=False):
        assert before.end == after.start
    instant = started_at + (terminated_at - started_at) * probe / 801
    found = [p for p in periods if instant in p]
    assert len(found) == 1
    assert found[0] == subscription_period(schedule, started_at, instant, terminated_at)


# -- fixed vectors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("interval", "instant", "start", "end"), [
    ("weekly", utc(2026, 3, 15, 10), utc(2026, 3, 9), utc(2026, 3, 16)),  # Sunday → week from Monday
    ("monthly", utc(2026, 2, 14), utc(2026, 2, 1), utc(2026, 3, 1)),
    ("quarterly", utc(2026, 5, 20), utc(2026, 4, 1), utc(2026, 7, 1)),
    ("semiannual", utc(2026, 12, 31, 23, 59), utc(2026, 7, 1), utc(2027, 1, 1)),
    ("yearly", utc(2024, 2, 29, 12), utc(2024, 1, 1), utc(2025, 1, 1)),
])
def test_calendar_periods_in_utc(interval, instant, start, end):
    period = Schedule.of(interval, "calendar", instant, "UTC").period_at(instant)
    assert (period.start, period.end) == (start, end)


def test_monthly_anniversary_started_on_the_31st_clamps_each_month_from_the_anchor():
    schedule = Schedule.of("monthly", "anniversary", utc(2024, 1, 31, 15), "UTC")
    starts = [schedule.start_date(n) for n in range(6)]
    assert starts == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30),
                      date(2024, 5, 31), date(2024, 6, 30)]
    assert schedule.period_at(utc(2024, 3, 30)).start == utc(2024, 2, 29)
    assert Schedule.of("monthly", "anniversary", utc(2025, 1, 31), "UTC").start_date(1) == date(2025, 2, 28)


def test_yearly_anniversary_on_leap_day():
    schedule = Schedule.of("yearly", "anniversary", utc(2024, 2, 29), "UTC")
    assert [schedule.start_date(n) for n in range(5)] == [
        date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29)]


def test_quarterly_and_weekly_anniversary():
    quarterly = Schedule.of("quarterly", "anniversary", utc(2025, 11, 30), "UTC")
    assert [quarterly.start_date(n) for n in range(3)] == [date(2025, 11, 30), date(2026, 2, 28), date(2026, 5, 30)]
    weekly = Schedule.of("weekly", "anniversary", utc(2026, 3, 12), "UTC")  # a Thursday
    assert weekly.period_at(utc(2026, 3, 20)).start == utc(2026, 3, 19)


def test_periods_follow_the_customer_timezone_across_dst():
    # Paris: winter +01:00, summer +02:00 from 29 March 2026
    schedule = Schedule.of("monthly", "calendar", utc(2026, 3, 10), "Europe/Paris")
    march = schedule.period_at(utc(2026, 3, 10))
    assert march.start == utc(2026, 2, 28, 23) and march.end == utc(2026, 3, 31, 22)
    assert march.duration == timedelta(days=31) - timedelta(hours=1)
    # 31 March 22:30 UTC is already 1 April in Paris
    assert schedule.period_at(utc(2026, 3, 31, 22, 30)).start == utc(2026, 3, 31, 22)
    # New York, weekly across the November fall-back: a 169-hour week
    ny = Schedule.of("weekly", "calendar", utc(2026, 11, 1), "America/New_York")
    week = ny.period_at(utc(2026, 10, 30))  # 26 Oct – 2 Nov holds the 1 November fall-back
    assert week.duration == timedelta(hours=169)


def test_skipped_midnight_and_skipped_day():
    # Santiago skips local midnight when DST starts (2026-09-06 00:00 → 01:00)
    schedule = Schedule.of("weekly", "anniversary", datetime(2026, 9, 6, 12, tzinfo=UTC), "America/Santiago")
    period = schedule.period_at(datetime(2026, 9, 6, 12, tzinfo=UTC))
    assert period.start <= datetime(2026, 9, 6, 12, tzinfo=UTC) < period.end
    # Samoa skipped 30 December 2011 entirely
    apia = Schedule.of("monthly", "calendar", utc(2011, 12, 29), "Pacific/Apia")
    december = apia.period_at(utc(2011, 12, 29))
    assert december.end == apia.period_at(december.end).start


def test_subscription_cut_by_start_and_termination():
    schedule = Schedule.of("monthly", "calendar", utc(2026, 3, 15, 10), "UTC")
    periods = list(subscription_periods(schedule, utc(2026, 3, 15, 10), utc(2026, 7, 1), utc(2026, 5, 20)))
    assert [(p.start, p.end) for p in periods] == [
        (utc(2026, 3, 15, 10), utc(2026, 4, 1)), (utc(2026, 4, 1), utc(2026, 5, 1)),
        (utc(2026, 5, 1), utc(2026, 5, 20))]


def test_trial_end():
    assert trial_end(utc(2026, 1, 1), 14) == utc(2026, 1, 15)
    assert trial_end(utc(2026, 1, 1), "0.5") == utc(2026, 1, 1, 12)
    assert trial_end(utc(2026, 1, 1), 0) is None and trial_end(utc(2026, 1, 1), None) is None


def test_bad_schedule_arguments():
    with pytest.raises(ValueError):
        Schedule.of("daily", "calendar", utc(2026, 1, 1), "UTC")
    with pytest.raises(ValueError):
        Schedule.of("monthly", "someday", utc(2026, 1, 1), "UTC")
