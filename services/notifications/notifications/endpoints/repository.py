"""The SQL of webhook endpoints, and of their deliveries when an endpoint is disabled or recovered."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from invora.web.pagination import PageParams, PaginationMeta, paginate
from notifications.deliveries.models import DUE_STATUSES, FAILED, RETRYING, WebhookDelivery
from notifications.endpoints.models import WebhookEndpoint


async def scoped(session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, *,
                 for_update: bool = False) -> WebhookEndpoint | None:
    """The endpoint, if the key's scope (its organization) holds it."""
    statement = principal.scope(select(WebhookEndpoint), WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def page(session: AsyncSession, principal: Principal,
               params: PageParams) -> tuple[list[WebhookEndpoint], PaginationMeta]:
    statement = principal.scope(select(WebhookEndpoint), WebhookEndpoint).order_by(
        WebhookEndpoint.created_at, WebhookEndpoint.id
    )
    return await paginate(session, statement, params)


async def url_taken(session: AsyncSession, organization_id: uuid.UUID, url: str,
                    except_id: uuid.UUID | None = None) -> bool:
    statement = select(WebhookEndpoint.id).where(
        WebhookEndpoint.organization_id == organization_id, WebhookEndpoint.webhook_url == url
    )
    if except_id is not None:
        statement = statement.where(WebhookEndpoint.id != except_id)
    return (await session.execute(statement.limit(1))).first() is not None


async def count_of_organization(session: AsyncSession, organization_id: uuid.UUID) -> int:
    return (await session.execute(select(func.count()).select_from(WebhookEndpoint).where(
        WebhookEndpoint.organization_id == organization_id))).scalar_one()


async def insert_if_absent(session: AsyncSession, **values: Any) -> None:
    """A new endpoint, unless the organization already has one with this URL."""
    await session.execute(insert(WebhookEndpoint).values(**values).on_conflict_do_nothing(
        index_elements=["organization_id", "webhook_url"]))


async def fail_due_deliveries(session: AsyncSession, endpoint_id: uuid.UUID, now: datetime) -> None:
    """A disabled endpoint's pending and retrying deliveries fail now."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status.in_(DUE_STATUSES))
        .values(status=FAILED, next_attempt_at=None, claim_token=None, updated_at=now)
    )


async def requeue_failed(session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID,
                         since: datetime, until: datetime | None, now: datetime) -> int:
    """The endpoint's failed deliveries created in [since, until), due again now; how many."""
    statement = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.organization_id == organization_id,
            WebhookDelivery.status == FAILED,
            WebhookDelivery.created_at >= since,
        )
        .values(status=RETRYING, next_attempt_at=now, claim_token=None, updated_at=now)
    )
    if until is not None:
        statement = statement.where(WebhookDelivery.created_at < until)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return result.rowcount or 0
