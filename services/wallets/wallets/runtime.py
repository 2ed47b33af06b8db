"""What the routes, consumers and background loops of the wallets service share: settings and the clock.

The clock is swappable (`app.state.runtime.clock = ManualClock(...)`) so expiry and "expiring
within 30 days" are tested by moving time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from fastapi import Request

from wallets.settings import WalletsSettings


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        self._now += timedelta(seconds=seconds, **delta)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


@dataclass
class WalletsRuntime:
    settings: WalletsSettings
    clock: Clock = field(default_factory=SystemClock)


def get_runtime(request: Request) -> WalletsRuntime:
    return request.app.state.runtime


def now(request: Request) -> datetime:
    return request.app.state.runtime.clock.now()
