"""Recovery: re-queue an endpoint's failed deliveries created since a time (e.g. after an outage is fixed)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from notifications.endpoints import repository
from notifications.endpoints.service import get_endpoint
from notifications.runtime import NotificationsRuntime, wake_workers_at_commit


async def recover_failed(
    session: AsyncSession, principal: Principal, lago_id: uuid.UUID, since: datetime,
    runtime: NotificationsRuntime, until: datetime | None = None,
) -> int:
    """Each re-queued delivery gets one attempt now; a failure continues its retry schedule if any is left."""
    endpoint = await get_endpoint(session, principal, lago_id)
    now = runtime.clock.now()
    count = await repository.requeue_failed(session, principal.organization_id, endpoint.id, since, until, now)
    await wake_workers_at_commit(session, now)
    return count
