"""Reading deliveries and their attempts; re-delivering one now."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from invora.web.pagination import PageParams, PaginationMeta
from notifications.deliveries.errors import WebhookNotFound
from notifications.deliveries.models import PENDING, RETRYING, WebhookDelivery, WebhookMessage
from notifications.deliveries.schemas import WebhookAttemptObject, WebhookDetailObject, WebhookObject
from notifications.endpoints.models import WebhookEndpoint
from notifications.runtime import NotificationsRuntime, wake_workers_at_commit


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


def _object(delivery: WebhookDelivery, object_type: str, event_id: uuid.UUID, url: str) -> WebhookObject:
    return WebhookObject(
        lago_id=delivery.id, lago_organization_id=delivery.organization_id,
        lago_webhook_endpoint_id=delivery.endpoint_id, webhook_url=url, webhook_type=delivery.event_type,
        object_type=object_type, event_id=event_id, status=delivery.status,  # type: ignore[arg-type]
        attempts_count=delivery.attempt_count, retries=max(delivery.attempt_count - 1, 0),
        http_status=delivery.last_status_code, last_error_class=delivery.last_error_class,  # type: ignore[arg-type]
        last_retried_at=delivery.last_attempt_at,
        next_attempt_at=delivery.next_attempt_at if delivery.status in (PENDING, RETRYING) else None,
        succeeded_at=delivery.succeeded_at, created_at=delivery.created_at, updated_at=delivery.updated_at,
    )


async def list_deliveries(
    session: AsyncSession, principal: Principal, filters: DeliveryFilters, page: PageParams
) -> tuple[list[WebhookObject], PaginationMeta]:
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
            .limit(page.per_page).offset(page.offset)
        )
    ).all()
    return [_object(*row) for row in rows], page.meta(total)


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


async def get_delivery(session: AsyncSession, principal: Principal, lago_id: uuid.UUID) -> WebhookDetailObject:
    row = (
        await session.execute(
            _base(principal).add_columns(WebhookMessage.payload, _ATTEMPTS).where(WebhookDelivery.id == lago_id)
        )
    ).first()
    if row is None:
        raise WebhookNotFound()
    delivery, object_type, event_id, url, payload, attempts = row
    if isinstance(attempts, str):  # a driver without a json codec
        attempts = json.loads(attempts)
    return WebhookDetailObject(
        **_object(delivery, object_type, event_id, url).model_dump(),
        payload=json.loads(payload),
        attempts=[WebhookAttemptObject.model_validate(a) for a in attempts],
    )


async def retry_delivery(
    session: AsyncSession, principal: Principal, lago_id: uuid.UUID, runtime: NotificationsRuntime
) -> WebhookObject:
    """One attempt now, whatever the state (a succeeded delivery is sent again on request)."""
    row = (await session.execute(_base(principal).where(WebhookDelivery.id == lago_id).with_for_update(
        of=WebhookDelivery))).first()
    if row is None:
        raise WebhookNotFound()
    delivery = row[0]
    now = runtime.clock.now()
    delivery.status = RETRYING if delivery.attempt_count else PENDING
    delivery.next_attempt_at = now
    delivery.claim_token = None
    delivery.updated_at = now
    await session.flush()
    await wake_workers_at_commit(session, now)
    return _object(delivery, row[1], row[2], row[3])
