"""The SQL of the fan-out: the endpoints events can reach, new messages (once per event) and their deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.db.bulk import insert_new
from notifications.deliveries.models import WebhookDelivery, WebhookMessage
from notifications.endpoints.models import WebhookEndpoint

_MESSAGES_PER_STATEMENT = 1000  # 11 parameters each, well under PostgreSQL's 32,767 per statement
_ENDPOINT_ROW = (WebhookEndpoint.id, WebhookEndpoint.organization_id, WebhookEndpoint.event_types,
                 WebhookEndpoint.enabled)


async def enabled_endpoints(session: AsyncSession, organizations: Collection[uuid.UUID]) -> Sequence[Any]:
    """(id, organization, event types, enabled) of these organizations' enabled endpoints, KEY SHARE locked: an
    endpoint being disabled (FOR UPDATE) waits for this transaction, then fails what it created; one disabled
    first is not returned."""
    return (await session.execute(
        select(*_ENDPOINT_ROW)
        .where(WebhookEndpoint.organization_id.in_(organizations), WebhookEndpoint.enabled.is_(True))
        .with_for_update(key_share=True)
    )).all()


async def endpoints_by_id(session: AsyncSession, endpoint_ids: Collection[uuid.UUID]) -> Sequence[Any]:
    """(id, organization, event types, enabled) of these endpoints, enabled or not (test events reach either)."""
    return (await session.execute(select(*_ENDPOINT_ROW).where(WebhookEndpoint.id.in_(endpoint_ids)))).all()


async def insert_new_messages(session: AsyncSession, messages: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert the messages; one whose event already has a message (a replay) is skipped. The ids inserted."""
    return set(await insert_new(session, WebhookMessage, messages, per_statement=_MESSAGES_PER_STATEMENT,
                                conflict=["event_id"]))


async def insert_deliveries(session: AsyncSession, deliveries: list[dict[str, Any]]) -> None:
    await session.execute(insert(WebhookDelivery), deliveries)
