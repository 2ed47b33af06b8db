"""Disabling an endpoint: by hand, on `410 Gone`, or after it has failed for days.

Its pending and retrying deliveries fail at once (`recover` re-queues them later). An
automatic disable publishes `webhook_endpoint.disabled`, which the fan-out delivers to the
organization's other endpoints.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invora.outbox import add_event
from notifications.endpoints import repository
from notifications.endpoints.models import WebhookEndpoint
from notifications.endpoints.schemas import WebhookEndpointObject

DISABLED_EVENT = "webhook_endpoint.disabled"
AGGREGATE_TYPE = "webhook_endpoint"


async def disable_endpoint(
    session: AsyncSession, endpoint: WebhookEndpoint, *, reason: str, now: datetime, publish: bool
) -> None:
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    endpoint.updated_at = now
    await session.flush()
    await repository.fail_due_deliveries(session, endpoint.id, now)
    if publish:
        await add_event(
            session, type=DISABLED_EVENT, organization_id=endpoint.organization_id,
            aggregate_type=AGGREGATE_TYPE, aggregate_id=endpoint.id,
            data={AGGREGATE_TYPE: WebhookEndpointObject.from_model(endpoint).model_dump(mode="json")},
        )
