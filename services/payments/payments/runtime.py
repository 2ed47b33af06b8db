"""What the routes, consumers and background loops of the payments service share: the suite's runtime
(settings, the swappable clock) plus provider adapters and the charger's wake-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from invora.runtime import ServiceRuntime
from payments.providers.registry import AdapterFactory
from payments.settings import PaymentsSettings


@dataclass
class PaymentsRuntime(ServiceRuntime):
    settings: PaymentsSettings = field(default_factory=PaymentsSettings)
    adapters: AdapterFactory | None = None
    charger_wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.adapters is None:
            self.adapters = AdapterFactory(self.settings)

    def wake_charger(self) -> None:
        self.charger_wakeup.set()


def get_runtime(request: Request) -> PaymentsRuntime:
    return request.app.state.runtime


Runtime = Annotated[PaymentsRuntime, Depends(get_runtime)]
