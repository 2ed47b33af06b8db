"""One way to run a service's background loop (scheduler, charger, expiry, reconciliation…).

`repeat(name, passes, interval)` is an async context manager for a lifespan: on entry it starts a task
that runs each pass in turn, again and again, until the context exits (shutdown), when the task is
cancelled and awaited. Each pass is isolated: one that raises is logged as `<pass>_failed` with its
stack and the others still run; the next round tries it again (the database may be away for a while).
Between rounds the loop sleeps `interval` seconds (a number, or a callable read every round so a test
can shorten it), or less when `wakeup` is set. With `again_when_busy`, a round in which a pass
reported work done (a positive int: rows claimed) starts the next round at once, so a backlog drains
without waiting.

Per-item isolation (one bad row must not stop the rest) is the pass's own business: see
`invora.parking`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from invora.logging import get_logger

log = get_logger()

Pass = Callable[[], Awaitable[object]]


def _busy(result: object) -> bool:
    return isinstance(result, int) and not isinstance(result, bool) and result > 0


@contextlib.asynccontextmanager
async def repeat(name: str, passes: Mapping[str, Pass], interval: float | Callable[[], float], *,
                 wakeup: asyncio.Event | None = None, again_when_busy: bool = False,
                 wait_first: bool = False) -> AsyncIterator[None]:
    async def pause() -> None:
        seconds = interval() if callable(interval) else interval
        if wakeup is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), seconds)
        wakeup.clear()

    async def loop() -> None:
        if wait_first:
            await pause()
        while True:
            busy = False
            for pass_name, run in passes.items():
                try:
                    busy = _busy(await run()) or busy
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - logged; the next round tries again
                    log.exception(f"{pass_name}_failed", loop=name)
            if not (again_when_busy and busy):
                await pause()

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
