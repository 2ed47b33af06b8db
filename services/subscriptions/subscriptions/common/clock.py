"""The service's notion of now, injectable through `app.state.clock` (tests move time at will)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import Request

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


def request_clock(request: Request) -> Clock:
    return getattr(request.app.state, "clock", None) or system_clock


def now(request: Request) -> datetime:
    return request_clock(request)()
