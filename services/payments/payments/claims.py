"""What the invoice charger and the top-up charger share: a pass that claims due rows under a lease and
handles each with bounded concurrency, and the back-off of a row whose provider did not answer.

A pass claims (`claim(session, now, lease_until, limit)`: `FOR UPDATE SKIP LOCKED`, a lease per row,
and whatever else the caller does in that transaction) and commits before any provider is called;
`handle(item)` then runs outside that transaction, at most `concurrency` at once. A row that `handle`
fails on unexpectedly keeps its lease until it runs out, and the next claimer reconciles it (looks it
up at the provider before any second call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.logging import get_logger

log = get_logger(__name__)
MAX_BACKOFF_SECONDS = 3600.0

# (session, now, lease_until, limit) -> the rows claimed, or one item per row claimed
Claim = Callable[[AsyncSession, datetime, datetime, int], Awaitable[list[Any]]]


def backoff_seconds(first_seconds: float, calls: int) -> float:
    """The wait before a row whose provider did not answer is looked up again: doubling per call, at most 1 h."""
    return min(first_seconds * 2 ** max(calls - 1, 0), MAX_BACKOFF_SECONDS)


async def run_claimed(runtime: Any, sessionmaker: async_sessionmaker[AsyncSession], claim: Claim,
                      handle: Callable[[Any], Awaitable[Any]], *, failure_event: str, id_field: str,
                      item_id: Callable[[Any], Any] = lambda row: row["id"]) -> int:
    """One pass; the number of rows claimed.

    At most `charger_concurrency` rows are in hand at once, and a row is claimed only when a slot is free
    for it: a pass claims as many rows as slots are free (once a quarter of them are), hands each to
    `handle` at once, and claims again as handles finish. So a claimed row never waits behind others with
    its lease running, and processes that share the work share it evenly (each takes what it can start,
    not a fixed batch that another process might have handled sooner). A claim may find fewer rows than
    slots while rows are still queued (the charger's claim takes a provider connection's rows only while it
    has fewer than its limit in flight, in any process), so the pass claims again as handles finish until a
    claim finds nothing; it ends then, once what it took is done, or after `16 × concurrency` rows (the
    other passes of the loop get their turn). `claim` may turn rows into other items (`item_id` names one in logs).
    """
    settings = runtime.settings
    concurrency = settings.charger_concurrency
    refill_at = max(1, concurrency // 4)
    in_flight: set[asyncio.Task] = set()
    claimed, more = 0, True

    async def guarded(item: Any) -> None:
        try:
            await handle(item)
        except Exception as exc:  # noqa: BLE001 - the lease runs out and the row is reconciled
            log.warning(failure_event, **{id_field: str(item_id(item))}, error=repr(exc))

    try:
        while True:
            free = concurrency - len(in_flight)
            if more and (free >= refill_at or not in_flight):
                now = runtime.clock.now()
                async with sessionmaker() as session:
                    items = await claim(session, now, now + timedelta(seconds=settings.charger_lease_seconds), free)
                    await session.commit()
                claimed += len(items)
                more = bool(items) and claimed < 16 * concurrency
                in_flight.update(asyncio.create_task(guarded(item)) for item in items)
            if not in_flight:
                return claimed
            _, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if in_flight:  # a claim failed: what is in hand still finishes (its provider call may be under way)
            await asyncio.gather(*in_flight, return_exceptions=True)
