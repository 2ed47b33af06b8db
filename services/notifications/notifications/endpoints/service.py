"""Webhook endpoint CRUD: validation (URL, SSRF, filters, limits) and presentation."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from invora.db.flush import flush_unique
from invora.web.pagination import PageParams, PaginationMeta
from notifications.endpoints import repository
from notifications.endpoints.disable import disable_endpoint
from notifications.endpoints.errors import (
    EndpointLimitReached,
    WebhookEndpointNotFound,
    WebhookUrlRefused,
    WebhookUrlTaken,
)
from notifications.endpoints.event_types import normalize_event_types
from notifications.endpoints.models import WebhookEndpoint
from notifications.endpoints.schemas import WebhookEndpointCreateFields, WebhookEndpointUpdateFields
from notifications.runtime import NotificationsRuntime
from notifications.signing.secrets import generate_secret
from notifications.ssrf.policy import TargetRefused, parse_target
from notifications.ssrf.resolver import check_target

DEFAULT_SIGNATURE_ALGO = "jwt"  # Lago's default


async def validate_url(url: str, runtime: NotificationsRuntime) -> str:
    """Refuse malformed, non-https (unless allowed) and private-address URLs up front."""
    try:
        target = parse_target(url)
        await check_target(target, runtime.policy, runtime.lookup)
    except TargetRefused as exc:
        raise WebhookUrlRefused(exc.code) from None
    return url


async def get_endpoint(session: AsyncSession, principal: Principal, lago_id: uuid.UUID,
                       *, for_update: bool = False) -> WebhookEndpoint:
    endpoint = await repository.scoped(session, principal, lago_id, for_update=for_update)
    if endpoint is None:
        raise WebhookEndpointNotFound()
    return endpoint


async def list_endpoints(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[WebhookEndpoint], PaginationMeta]:
    return await repository.page(session, principal, page)


async def create_endpoint(
    session: AsyncSession, principal: Principal, fields: WebhookEndpointCreateFields, runtime: NotificationsRuntime
) -> WebhookEndpoint:
    url = await validate_url(fields.webhook_url, runtime)
    event_types = normalize_event_types(fields.event_types)
    organization_id = principal.organization_id
    count = await repository.count_of_organization(session, organization_id)
    if count >= runtime.settings.max_endpoints_per_organization:
        raise EndpointLimitReached()
    if await repository.url_taken(session, organization_id, url):
        raise WebhookUrlTaken()
    now = runtime.clock.now()
    enabled = fields.enabled is not False
    endpoint = WebhookEndpoint(
        organization_id=organization_id,
        webhook_url=url,
        signature_algo=fields.signature_algo or DEFAULT_SIGNATURE_ALGO,
        name=fields.name,
        description=fields.description,
        event_types=event_types,
        rate_limit_per_second=fields.rate_limit_per_second,
        enabled=enabled,
        disabled_at=None if enabled else now,
        disabled_reason=None if enabled else "manual",
        secret=generate_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await flush_unique(session, WebhookUrlTaken)  # a concurrent request registered the same URL
    return endpoint


async def update_endpoint(
    session: AsyncSession, principal: Principal, lago_id: uuid.UUID, fields: WebhookEndpointUpdateFields,
    runtime: NotificationsRuntime,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, principal, lago_id, for_update=True)
    given = fields.model_fields_set
    now = runtime.clock.now()
    if fields.webhook_url is not None and fields.webhook_url.strip() != endpoint.webhook_url:
        url = await validate_url(fields.webhook_url, runtime)
        if await repository.url_taken(session, endpoint.organization_id, url, except_id=endpoint.id):
            raise WebhookUrlTaken()
        endpoint.webhook_url = url
    if fields.signature_algo is not None:  # absent or null keeps the current algorithm, as Lago
        endpoint.signature_algo = fields.signature_algo
    if "event_types" in given:
        endpoint.event_types = normalize_event_types(fields.event_types)
    for name in ("name", "description", "rate_limit_per_second"):
        if name in given:
            setattr(endpoint, name, getattr(fields, name))
    if fields.enabled is True and not endpoint.enabled:
        endpoint.enabled = True
        endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
    elif fields.enabled is False and endpoint.enabled:
        await disable_endpoint(session, endpoint, reason="manual", now=now, publish=False)
    endpoint.updated_at = now
    await flush_unique(session, WebhookUrlTaken)  # a concurrent request registered the same URL
    return endpoint


async def delete_endpoint(session: AsyncSession, principal: Principal, lago_id: uuid.UUID) -> WebhookEndpoint:
    """Deletes the endpoint with its deliveries and attempts (pending retries die with it, as in Lago)."""
    endpoint = await get_endpoint(session, principal, lago_id, for_update=True)
    await session.delete(endpoint)
    await session.flush()
    return endpoint
