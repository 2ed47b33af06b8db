"""Billing-period maths: pure functions, no I/O (see `schedule.py`)."""

from subscriptions.periods.schedule import (
    BILLING_TIMES,
    INTERVALS,
    Period,
    Schedule,
    subscription_period,
    subscription_periods,
    trial_end,
    yearly_amount_cents,
)

__all__ = [
    "BILLING_TIMES", "INTERVALS", "Period", "Schedule", "subscription_period", "subscription_periods", "trial_end",
    "yearly_amount_cents",
]
