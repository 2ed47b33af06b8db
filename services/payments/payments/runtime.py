"""What the routes, consumers and background loops of the payments service share: the suite's runtime
(settings, the swappable clock) plus provider adapters, the charger's wake-up and the subscriptions service's
client (customers created a moment ago that the projection has not heard of yet; tests swap it)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from invora.runtime import ServiceRuntime
from invora.service_client import ServiceClient
from payments.providers.registry import AdapterFactory
from payments.settings import PaymentsSettings


@dataclass
class PaymentsRuntime(ServiceRuntime):
    settings: PaymentsSettings = field(default_factory=PaymentsSettings)
    adapters: AdapterFactory | None = None
    charger_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    subscriptions: ServiceClient = field(init=False)

    def __post_init__(self) -> None:
        if self.adapters is None:
            self.adapters = AdapterFactory(self.settings)
        self.subscriptions = subscriptions_client(self.settings)

    async def aclose(self) -> None:
        await self.subscriptions.aclose()

    def wake_charger(self) -> None:
        self.charger_wakeup.set()


def subscriptions_client(settings: PaymentsSettings, transport=None) -> ServiceClient:
    return ServiceClient(base_url=settings.subscriptions_url, subject="service:payments", issuer=settings.auth_issuer,
                         signing_key=settings.service_signing_key, api_key=settings.subscriptions_api_key,
                         timeout=settings.subscriptions_timeout_seconds, retries=settings.subscriptions_retries,
                         transport=transport)


def get_runtime(request: Request) -> PaymentsRuntime:
    return request.app.state.runtime


Runtime = Annotated[PaymentsRuntime, Depends(get_runtime)]
