"""The time a request acts at: `app.state.clock` when a test set one, else the wall clock (UTC).

Consumed events act at their own `occurred_at` instead, so a redelivered or replayed event computes the
same invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request


def now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)
