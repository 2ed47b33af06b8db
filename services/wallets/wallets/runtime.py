"""What the routes, consumers and background loops of the wallets service share (`app.state.runtime`).

The shared runtime (`invora.runtime`): settings and the swappable clock
(`app.state.runtime.clock = invora.clock.ManualClock(...)`), so expiry and "expiring within 30
days" are tested by moving time; and the HTTP client of the subscriptions service (`subscriptions`: customers
created a moment ago that the projection has not heard of yet; tests swap it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from invora.runtime import ServiceRuntime
from invora.service_client import ServiceClient
from wallets.settings import WalletsSettings
from wallets.usage.client import usage_client


@dataclass
class WalletsRuntime(ServiceRuntime):
    settings: WalletsSettings
    subscriptions: ServiceClient = field(init=False)

    def __post_init__(self) -> None:
        self.subscriptions = usage_client(self.settings)

    async def aclose(self) -> None:
        await self.subscriptions.aclose()


def get_runtime(request: Request) -> WalletsRuntime:
    return request.app.state.runtime


def get_subscriptions(request: Request) -> ServiceClient:
    return request.app.state.runtime.subscriptions


# the subscriptions service's client, for routes naming a customer the projection may not hold yet
Subscriptions = Annotated[ServiceClient, Depends(get_subscriptions)]
