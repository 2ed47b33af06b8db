"""Restart with back-off: what `invora dev` does when something it started dies.

Each supervised part (PostgreSQL, the broker, every service, the gateway) has its own
`RestartBackoff`: the first restart comes after `initial` seconds, each further one waits twice
as long, up to `maximum`; a part that stayed up `stable_after` seconds starts again from
`initial`. So a crash is repaired in about a second, and a part that cannot start (a port taken,
a broken setting) is retried ever more slowly instead of in a tight loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RestartBackoff:
    initial: float = 0.5
    maximum: float = 30.0
    stable_after: float = 60.0
    restarts: int = 0  # since the part was last stable
    started_at: float = 0.0
    due_at: float | None = field(default=None)  # set while a restart is pending

    @property
    def pending(self) -> bool:
        return self.due_at is not None

    def died(self, now: float) -> float:
        """Schedule the restart; returns the delay."""
        if now - self.started_at >= self.stable_after:
            self.restarts = 0
        delay = min(self.initial * (2 ** self.restarts), self.maximum)
        self.restarts += 1
        self.due_at = now + delay
        return delay

    def due(self, now: float) -> bool:
        return self.due_at is not None and now >= self.due_at

    def started(self, now: float) -> None:
        self.started_at = now
        self.due_at = None

    def failed_to_start(self, now: float) -> float:
        """A restart attempt that failed at once counts as another death."""
        self.started_at = now
        return self.died(now)
