"""Recovery: re-queue an endpoint's failed deliveries created since a time (e.g. after an outage is fixed)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from notifications.deliveries.models import FAILED, RETRYING, WebhookDelivery
from notifications.endpoints.service import get_endpoint
from notifications.runtime import NotificationsRuntime, wake_workers_at_commit


async def recover_failed(
    session: AsyncSession, principal: Principal, lago_id: uuid.UUID, since: datetime,
    runtime: NotificationsRuntime, until: datetime | None = None,
) -> int:
    """Each re-queued delivery gets one attempt now; a failure continues its retry schedule if any is left."""
    endpoint = await get_endpoint(session, principal, lago_id)
    now = runtime.clock.now()
    statement = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.organization_id == principal.organization_id,
            WebhookDelivery.status == FAILED,
            WebhookDelivery.created_at >= since,
        )
        .values(status=RETRYING, next_attempt_at=now, claim_token=None, updated_at=now)
    )
    if until is not None:
        statement = statement.where(WebhookDelivery.created_at < until)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    await wake_workers_at_commit(session, now)
    return result.rowcount or 0
