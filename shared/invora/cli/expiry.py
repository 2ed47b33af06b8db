"""`--expires` values: a duration (`90s`, `15m`, `12h`, `30d`, `2w`) or an ISO-8601 instant."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_expiry(value: str, now: datetime | None = None) -> timedelta:
    """Time left until the key expires. Raises ValueError for anything unparseable or not in
    the future."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        left = timedelta(seconds=amount * _UNIT_SECONDS[unit])
    else:
        try:
            instant = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is neither a duration like 30d / 12h / 15m nor an ISO-8601 date-time"
            ) from None
        if instant.tzinfo is None:  # naive times are taken as UTC, like everything stored
            instant = instant.replace(tzinfo=UTC)
        left = instant - now
    if left <= timedelta(0):
        raise ValueError(f"{value!r} is not in the future")
    return left
