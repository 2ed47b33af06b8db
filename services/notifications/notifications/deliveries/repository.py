"""The SQL of deliveries: listed with their message and endpoint, one with its attempts, one locked to retry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from invora.web.pagination import PageParams
from notifications.deliveries.models import WebhookDelivery, WebhookMessage
from notifications.endpoints.models import WebhookEndpoint


@dataclass(frozen=True)
class DeliveryFilters:
    webhook_endpoint_id: uuid.UUID | None = None
    status: str | None = None
    webhook_type: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def _base(principal: Principal) -> Select:
    return (
        select(WebhookDelivery, WebhookMessage.object_type, WebhookMessage.event_id, WebhookEndpoint.webhook_url)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.organization_id == principal.organization_id)
    )


# the attempts travel in the same statement as the delivery: one snapshot, so a state is never shown with
# attempts older or newer than it
_ATTEMPTS = literal_column(
    """(SELECT coalesce(json_agg(json_build_object(
            'lago_id', a.id, 'attempt_number', a.attempt_number, 'attempted_at', a.attempted_at,
            'webhook_url', a.url, 'status_code', a.status_code, 'duration_ms', a.duration_ms,
            'response_body', a.response_body, 'error_class', a.error_class, 'error_message', a.error_message,
            'next_attempt_at', a.next_attempt_at) ORDER BY a.attempt_number, a.attempted_at), '[]'::json)
        FROM webhook_attempts a WHERE a.delivery_id = webhook_deliveries.id)"""
).label("attempts")


async def page(session: AsyncSession, principal: Principal, filters: DeliveryFilters,
               params: PageParams) -> tuple[Sequence[Any], int]:
    """(delivery, object type, event id, endpoint URL) rows of one page, the newest first, and the total."""
    statement = _base(principal)
    if filters.webhook_endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == filters.webhook_endpoint_id)
    if filters.status is not None:
        statement = statement.where(WebhookDelivery.status == filters.status)
    if filters.webhook_type is not None:
        statement = statement.where(WebhookDelivery.event_type == filters.webhook_type)
    if filters.created_after is not None:
        statement = statement.where(WebhookDelivery.created_at >= filters.created_after)
    if filters.created_before is not None:
        statement = statement.where(WebhookDelivery.created_at < filters.created_before)
    total = (await session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    rows = (
        await session.execute(
            statement.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(params.per_page).offset(params.offset)
        )
    ).all()
    return rows, total


async def with_attempts(session: AsyncSession, principal: Principal, delivery_id: uuid.UUID) -> Any:
    """(delivery, object type, event id, endpoint URL, payload, attempts as JSON) or None."""
    return (
        await session.execute(
            _base(principal).add_columns(WebhookMessage.payload, _ATTEMPTS).where(WebhookDelivery.id == delivery_id)
        )
    ).first()


async def locked(session: AsyncSession, principal: Principal, delivery_id: uuid.UUID) -> Any:
    """(delivery, object type, event id, endpoint URL) with the delivery locked, or None."""
    return (await session.execute(_base(principal).where(WebhookDelivery.id == delivery_id).with_for_update(
        of=WebhookDelivery))).first()
