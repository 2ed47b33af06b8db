"""What the routes, the fan-out consumer and the delivery worker share in one process.

The shared runtime (`invora.runtime`) with the notifications' own parts. Its clock is swappable
(`runtime.clock = invora.clock.ManualClock(...)`) so retry schedules, the 5-day
disable rule and secret-rotation overlaps are tested by moving time, never by sleeping.
Signature timestamps (`webhook-timestamp`) always use the real time: receivers check them
against their own clocks.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from invora.runtime import ServiceRuntime
from notifications.delivery_worker.repository import notify_at_commit
from notifications.settings import NotificationsSettings
from notifications.signing.jwt import JwtSigner
from notifications.ssrf.policy import TargetPolicy
from notifications.ssrf.resolver import Lookup, system_lookup

WAKE_CHANNEL = "invora_webhooks"


@dataclass
class NotificationsRuntime(ServiceRuntime):
    settings: NotificationsSettings
    rng: random.Random = field(default_factory=random.Random)
    # DNS for webhook targets (registration checks and the worker's connector)
    lookup: Lookup = system_lookup
    # loaded at start-up (configured PEM, or the key kept in the database)
    jwt_signer: JwtSigner | None = None
    # set by the worker: wakes it at once (e.g. after a manual retry committed in this process)
    wake_event: asyncio.Event | None = None
    _policy: TargetPolicy | None = field(default=None, repr=False)

    @property
    def policy(self) -> TargetPolicy:
        if self._policy is None:
            self._policy = TargetPolicy.from_settings(self.settings)
        return self._policy

    def wake_worker(self) -> None:
        if self.wake_event is not None:
            self.wake_event.set()


def get_runtime(request: Request) -> NotificationsRuntime:
    return request.app.state.runtime


async def wake_workers_at_commit(session: AsyncSession, due_at: datetime) -> None:
    """Tell every delivery worker (any replica) to look for due deliveries once this transaction commits.

    `due_at` is the earliest `next_attempt_at` the transaction wrote. It may commit well after
    that time (a large fan-out on a busy database), when the workers' searches have moved on
    past it: each worker lowers its search floor to it (delivery_worker/scan_floor.py).
    """
    await notify_at_commit(session, WAKE_CHANNEL, due_at)
