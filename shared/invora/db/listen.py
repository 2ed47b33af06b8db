"""`ChannelListener`: one LISTEN connection kept open, for caches that PostgreSQL invalidates.

NOTIFY is delivered only while the listening connection is up, so a cache fed by it is only
trustworthy while `connected` is true. `on_state(connected)` is called whenever notifications may
have been missed: with True once LISTEN is in place, with False when the connection is lost or
stops answering pings. A cache must forget what it holds on both. A silently dead connection (a
network partition) is noticed by a ping every `ping_interval` seconds that must answer within that
time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg

from invora.logging import get_logger

log = get_logger(__name__)


class ChannelListener:
    def __init__(self, dsn: str, channel: str, on_notify: Callable[[str], None], on_state: Callable[[bool], None],
                 *, ping_interval: float = 1.0, max_backoff: float = 5.0) -> None:
        self.dsn = dsn
        self.channel = channel
        self.on_notify = on_notify
        self.on_state = on_state
        self.ping_interval = ping_interval
        self.max_backoff = max_backoff
        self.connected = False
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self._up = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"listen-{self.channel}")

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend serving the LISTEN (for operators, and tests that cut it)."""
        return self._connection.get_server_pid() if self._connection is not None else None

    async def wait_connected(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout)
        return self.connected

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._lost()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect after any database trouble
                log.warning("listen_connection_lost", channel=self.channel, error=repr(exc))
            finally:
                self._lost()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _listen(self) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=10)
        self._connection = connection
        connection.add_termination_listener(lambda _connection: self._lost())
        await connection.add_listener(self.channel, lambda _c, _pid, _channel, payload: self.on_notify(payload))
        # anything committed before LISTEN took effect may have been missed
        self.connected = True
        self.on_state(True)
        self._up.set()
        log.info("listen_connected", channel=self.channel)
        while not connection.is_closed():
            await asyncio.sleep(self.ping_interval)
            await asyncio.wait_for(connection.fetchval("SELECT 1"), self.ping_interval)
        raise ConnectionError("listen connection closed")

    def _lost(self) -> None:
        connection, self._connection = self._connection, None
        was_connected, self.connected = self.connected, False
        self._up.clear()
        if was_connected:
            self.on_state(False)
        if connection is not None and not connection.is_closed():
            connection.terminate()
