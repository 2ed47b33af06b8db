"""`/api/v1/webhooks`: the delivery log (every attempt), and re-delivery."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from invora.auth.deps import AdminPrincipal
from invora.web.deps import DbSession
from invora.web.pagination import Pagination
from notifications.deliveries import service
from notifications.deliveries.schemas import (
    DeliveryStatus,
    WebhookDetailResponse,
    WebhookList,
    WebhookResponse,
)
from notifications.inputs import Moment
from notifications.runtime import NotificationsRuntime, get_runtime

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
Runtime = Annotated[NotificationsRuntime, Depends(get_runtime)]


def _filters(
    webhook_endpoint_id: Annotated[uuid.UUID | None, Query(description="Only this endpoint's deliveries")] = None,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    webhook_type: Annotated[str | None, Query(max_length=200, description="Event type, e.g. invoice.created")] = None,
    created_after: Annotated[Moment | None, Query(description="RFC 3339 (no offset: UTC), inclusive")] = None,
    created_before: Annotated[Moment | None, Query(description="RFC 3339 (no offset: UTC), exclusive")] = None,
) -> service.DeliveryFilters:
    return service.DeliveryFilters(
        webhook_endpoint_id=webhook_endpoint_id, status=status, webhook_type=webhook_type,
        created_after=created_after, created_before=created_before,
    )


@router.get("", response_model=WebhookList, summary="List webhook deliveries")
async def list_webhooks(
    session: DbSession, principal: AdminPrincipal, page: Pagination,
    filters: Annotated[service.DeliveryFilters, Depends(_filters)],
) -> WebhookList:
    rows, meta = await service.list_deliveries(session, principal, filters, page)
    return WebhookList(webhooks=rows, meta=meta)


@router.get("/{lago_id}", response_model=WebhookDetailResponse, summary="Retrieve a delivery with every attempt")
async def get_webhook(lago_id: uuid.UUID, session: DbSession, principal: AdminPrincipal) -> WebhookDetailResponse:
    return WebhookDetailResponse(webhook=await service.get_delivery(session, principal, lago_id))


@router.post("/{lago_id}/retry", response_model=WebhookResponse, summary="Re-deliver now")
async def retry_webhook(lago_id: uuid.UUID, session: DbSession, principal: AdminPrincipal, runtime: Runtime
                        ) -> WebhookResponse:
    return WebhookResponse(webhook=await service.retry_delivery(session, principal, lago_id, runtime))
