"""When the next attempt happens: the retry schedule with jitter, and a receiver's Retry-After."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_AFTER_MIN_SECONDS = 1.0


def next_delay(schedule: Sequence[float], attempts_made: int, jitter: float, rng: random.Random) -> float | None:
    """Seconds until the next attempt after `attempts_made` attempts failed; None when none is left.

    `schedule[n]` is the delay before attempt n+1 (so `schedule[0]` is the first, normally 0).
    Every non-zero delay is scaled by a uniform factor in [1 - jitter, 1 + jitter].
    """
    if attempts_made >= len(schedule):
        return None
    base = schedule[attempts_made]
    if base <= 0:
        return 0.0
    return base * rng.uniform(1 - jitter, 1 + jitter)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def clamp_retry_after(seconds: float, maximum: float) -> float:
    return min(max(seconds, RETRY_AFTER_MIN_SECONDS), maximum)
