"""What the routes, consumers and background loops of the wallets service share (`app.state.runtime`).

The shared runtime (`invora.runtime`): settings and the swappable clock
(`app.state.runtime.clock = invora.clock.ManualClock(...)`), so expiry and "expiring within 30
days" are tested by moving time.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from invora.runtime import ServiceRuntime
from wallets.settings import WalletsSettings


@dataclass
class WalletsRuntime(ServiceRuntime):
    settings: WalletsSettings


def get_runtime(request: Request) -> WalletsRuntime:
    return request.app.state.runtime
