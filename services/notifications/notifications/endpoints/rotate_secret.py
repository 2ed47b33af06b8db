"""Secret rotation: a new secret at once; the old one keeps signing alongside it for an overlap."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from notifications.endpoints.models import WebhookEndpoint
from notifications.endpoints.service import get_endpoint
from notifications.runtime import NotificationsRuntime
from notifications.signing.secrets import generate_secret


async def rotate_secret(
    session: AsyncSession, principal: Principal, lago_id: uuid.UUID, runtime: NotificationsRuntime,
    overlap_hours: float | None = None,
) -> WebhookEndpoint:
    """`overlap_hours` (default: the setting) of 0 retires the old secret at once, e.g. after a leak."""
    endpoint = await get_endpoint(session, principal, lago_id, for_update=True)
    now = runtime.clock.now()
    hours = runtime.settings.secret_rotation_overlap_hours if overlap_hours is None else overlap_hours
    if hours > 0:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(hours=hours)
    else:
        endpoint.previous_secret = endpoint.previous_secret_expires_at = None
    endpoint.secret = generate_secret()
    endpoint.updated_at = now
    await session.flush()
    return endpoint
