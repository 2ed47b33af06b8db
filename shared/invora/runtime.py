"""One way to hold what a service's routes, consumers and background loops share in one process.

`build_service_app` puts a runtime in `app.state.runtime`: a `ServiceRuntime` (settings and the
clock), or the service's own dataclass subclass with its extra parts (clients, caches, DNS
lookup…). Routes get it with `Depends(get_runtime)`; consumers and loops are handed it when the
app is built, so nothing needs the app object itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from invora.clock import Clock, SystemClock
from invora.settings import ServiceSettings


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    # swappable: tests set `runtime.clock = ManualClock(...)` and move time
    clock: Clock = field(default_factory=SystemClock)

    async def aclose(self) -> None:
        """Close what the runtime holds open (HTTP clients of other services); nothing by default."""


def clients_lifespan(app: FastAPI):
    """A background lifespan that closes the runtime's clients (`ServiceRuntime.aclose`) at shutdown."""
    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        try:
            yield
        finally:
            await app.state.runtime.aclose()

    return running()


def runtime_of(app: FastAPI) -> ServiceRuntime:
    return app.state.runtime


def get_runtime(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the running service's runtime (annotate with the service's own subclass)."""
    return request.app.state.runtime


def now(request: Request) -> datetime:
    """The service clock's time, for a route."""
    return request.app.state.runtime.clock.now()


# a route parameter `at: Now` receives the service clock's time
Now = Annotated[datetime, Depends(now)]
