"""What the routes, consumers and background loops of the payments service share: settings, the clock,
provider adapters and the charger's wake-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from payments.providers.registry import AdapterFactory
from payments.settings import PaymentsSettings


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class PaymentsRuntime:
    settings: PaymentsSettings
    adapters: AdapterFactory
    clock: SystemClock = field(default_factory=SystemClock)
    charger_wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def wake_charger(self) -> None:
        self.charger_wakeup.set()


def get_runtime(request: Request) -> PaymentsRuntime:
    return request.app.state.runtime
