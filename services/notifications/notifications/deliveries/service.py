"""Reading deliveries and their attempts; re-delivering one now."""

from __future__ import annotations

import json
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from invora.web.pagination import PageParams, PaginationMeta
from notifications.deliveries import repository
from notifications.deliveries.errors import WebhookNotFound
from notifications.deliveries.models import PENDING, RETRYING, WebhookDelivery
from notifications.deliveries.repository import DeliveryFilters as DeliveryFilters
from notifications.deliveries.schemas import WebhookAttemptObject, WebhookDetailObject, WebhookObject
from notifications.runtime import NotificationsRuntime, wake_workers_at_commit


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
    rows, total = await repository.page(session, principal, filters, page)
    return [_object(*row) for row in rows], page.meta(total)


async def get_delivery(session: AsyncSession, principal: Principal, lago_id: uuid.UUID) -> WebhookDetailObject:
    row = await repository.with_attempts(session, principal, lago_id)
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
    row = await repository.locked(session, principal, lago_id)
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
