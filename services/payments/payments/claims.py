"""What the invoice charger and the top-up charger share: a pass that claims due rows under a lease and
handles each with bounded concurrency, and the back-off of a row whose provider did not answer.

A pass claims (`claim(session, now, lease_until, limit)`: `FOR UPDATE SKIP LOCKED`, a lease per row)
and commits before any provider is called; `handle(row)` then runs outside that transaction, at most
`concurrency` at once. A row that `handle` fails on unexpectedly keeps its lease until it runs out,
and the next claimer reconciles it (looks it up at the provider before any second call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.logging import get_logger

log = get_logger(__name__)
MAX_BACKOFF_SECONDS = 3600.0

Claim = Callable[[AsyncSession, datetime, datetime, int], Awaitable[list[RowMapping]]]


def backoff_seconds(first_seconds: float, calls: int) -> float:
    """The wait before a row whose provider did not answer is looked up again: doubling per call, at most 1 h."""
    return min(first_seconds * 2 ** max(calls - 1, 0), MAX_BACKOFF_SECONDS)


async def run_claimed(runtime: Any, sessionmaker: async_sessionmaker[AsyncSession], claim: Claim,
                      handle: Callable[[RowMapping], Awaitable[Any]], *, failure_event: str, id_field: str) -> int:
    """One pass: claim due rows (up to four times the concurrency) and handle them, `charger_concurrency` at
    once; the number claimed."""
    settings = runtime.settings
    now = runtime.clock.now()
    async with sessionmaker() as session:
        claimed = await claim(session, now, now + timedelta(seconds=settings.charger_lease_seconds),
                              settings.charger_concurrency * 4)
        await session.commit()
    if not claimed:
        return 0
    limit = asyncio.Semaphore(settings.charger_concurrency)

    async def guarded(row: RowMapping) -> None:
        async with limit:
            try:
                await handle(row)
            except Exception as exc:  # noqa: BLE001 - the lease runs out and the row is reconciled
                log.warning(failure_event, **{id_field: str(row["id"])}, error=repr(exc))

    await asyncio.gather(*(guarded(row) for row in claimed))
    return len(claimed)
