"""SIGINT/SIGTERM handling for the `invora dev` supervisor.

The first signal only raises a flag: the supervisor checks it between start-up steps and
while it watches its children, so every started process is known and gets stopped. A second
signal during start-up aborts a step that hangs (e.g. a database that never answers); one
arriving within a second of the first is taken as the same request, because under
`make run` / `uv run` the terminal's SIGINT can reach the supervisor twice.
Once cleanup has begun, further signals are ignored so a repeated Ctrl-C cannot leave
orphans behind.
"""

from __future__ import annotations

import signal
import time
from types import FrameType

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
DUPLICATE_WINDOW_SECONDS = 1.0


class ShutdownRequested(Exception):
    def __init__(self, signal_name: str) -> None:
        super().__init__(f"received {signal_name}")
        self.signal_name = signal_name


class ShutdownSignals:
    def __init__(self) -> None:
        self.received: str | None = None
        self._received_at = 0.0
        self._cleaning_up = False
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        for signum in HANDLED_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def begin_cleanup(self) -> None:
        self._cleaning_up = True

    def check(self) -> None:
        if self.received is not None:
            raise ShutdownRequested(self.received)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._cleaning_up:
            return
        if self.received is None:
            self.received = name
            self._received_at = time.monotonic()
            return
        if time.monotonic() - self._received_at < DUPLICATE_WINDOW_SECONDS:
            return
        raise ShutdownRequested(name)
