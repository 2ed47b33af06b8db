"""`webhook.test`: an event like any other (outbox → Kafka → fan-out → delivery), aimed at one endpoint."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from invora.events.envelope import EventEnvelope
from invora.outbox import add_event
from notifications.endpoints.schemas import WebhookEndpointObject
from notifications.endpoints.service import get_endpoint

TEST_EVENT = "webhook.test"
AGGREGATE_TYPE = "webhook_endpoint"


async def send_test(session: AsyncSession, principal: Principal, lago_id: uuid.UUID) -> EventEnvelope:
    endpoint = await get_endpoint(session, principal, lago_id)
    return await add_event(
        session, type=TEST_EVENT, organization_id=endpoint.organization_id,
        aggregate_type=AGGREGATE_TYPE, aggregate_id=endpoint.id,
        data={AGGREGATE_TYPE: WebhookEndpointObject.from_model(endpoint).model_dump(mode="json")},
    )


def target_of_test_event(event: EventEnvelope) -> uuid.UUID | None:
    """The one endpoint a `webhook.test` event is for."""
    try:
        return uuid.UUID(str(event.data[AGGREGATE_TYPE]["lago_id"]))
    except (KeyError, TypeError, ValueError):
        return None
