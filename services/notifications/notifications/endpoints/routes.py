"""`/api/v1/webhook_endpoints`: Lago's endpoints API plus rotation, test and recovery."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from invora.auth.deps import AdminPrincipal
from invora.web.deps import DbSession
from invora.web.pagination import Pagination
from notifications.endpoints import recover, rotate_secret, send_test, service
from notifications.endpoints.schemas import (
    RecoveryObject,
    RecoveryResponse,
    WebhookEndpointCreate,
    WebhookEndpointList,
    WebhookEndpointObject,
    WebhookEndpointResponse,
    WebhookEndpointSecretResponse,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
    WebhookTestObject,
    WebhookTestResponse,
)
from notifications.inputs import Moment
from notifications.runtime import NotificationsRuntime, get_runtime

router = APIRouter(prefix="/api/v1/webhook_endpoints", tags=["webhook_endpoints"])
Runtime = Annotated[NotificationsRuntime, Depends(get_runtime)]


@router.post("", response_model=WebhookEndpointSecretResponse, summary="Create a webhook endpoint")
async def create_webhook_endpoint(
    body: WebhookEndpointCreate, session: DbSession, principal: AdminPrincipal, runtime: Runtime
) -> WebhookEndpointSecretResponse:
    endpoint = await service.create_endpoint(session, principal, body.webhook_endpoint, runtime)
    return WebhookEndpointSecretResponse(webhook_endpoint=WebhookEndpointWithSecret.from_model(endpoint))


@router.get("", response_model=WebhookEndpointList, summary="List webhook endpoints")
async def list_webhook_endpoints(session: DbSession, principal: AdminPrincipal, page: Pagination
                                 ) -> WebhookEndpointList:
    rows, meta = await service.list_endpoints(session, principal, page)
    return WebhookEndpointList(webhook_endpoints=[WebhookEndpointObject.from_model(e) for e in rows], meta=meta)


@router.get("/{lago_id}", response_model=WebhookEndpointResponse, summary="Retrieve a webhook endpoint")
async def get_webhook_endpoint(lago_id: uuid.UUID, session: DbSession, principal: AdminPrincipal
                               ) -> WebhookEndpointResponse:
    endpoint = await service.get_endpoint(session, principal, lago_id)
    return WebhookEndpointResponse(webhook_endpoint=WebhookEndpointObject.from_model(endpoint))


@router.put("/{lago_id}", response_model=WebhookEndpointResponse, summary="Update a webhook endpoint")
async def update_webhook_endpoint(
    lago_id: uuid.UUID, body: WebhookEndpointUpdate, session: DbSession, principal: AdminPrincipal, runtime: Runtime
) -> WebhookEndpointResponse:
    endpoint = await service.update_endpoint(session, principal, lago_id, body.webhook_endpoint, runtime)
    return WebhookEndpointResponse(webhook_endpoint=WebhookEndpointObject.from_model(endpoint))


@router.delete("/{lago_id}", response_model=WebhookEndpointResponse, summary="Delete a webhook endpoint")
async def delete_webhook_endpoint(lago_id: uuid.UUID, session: DbSession, principal: AdminPrincipal
                                  ) -> WebhookEndpointResponse:
    endpoint = await service.delete_endpoint(session, principal, lago_id)
    return WebhookEndpointResponse(webhook_endpoint=WebhookEndpointObject.from_model(endpoint))


@router.post("/{lago_id}/rotate_secret", response_model=WebhookEndpointSecretResponse,
             summary="Rotate the signing secret (the old one keeps signing during the overlap)")
async def rotate_webhook_endpoint_secret(
    lago_id: uuid.UUID, session: DbSession, principal: AdminPrincipal, runtime: Runtime,
    overlap_hours: Annotated[float | None, Query(ge=0, le=720, description="Default: the service setting")] = None,
) -> WebhookEndpointSecretResponse:
    endpoint = await rotate_secret.rotate_secret(session, principal, lago_id, runtime, overlap_hours)
    return WebhookEndpointSecretResponse(webhook_endpoint=WebhookEndpointWithSecret.from_model(endpoint))


@router.post("/{lago_id}/test", response_model=WebhookTestResponse,
             summary="Send a webhook.test event to this endpoint through the normal delivery path")
async def test_webhook_endpoint(lago_id: uuid.UUID, session: DbSession, principal: AdminPrincipal
                                ) -> WebhookTestResponse:
    event = await send_test.send_test(session, principal, lago_id)
    return WebhookTestResponse(webhook_test=WebhookTestObject(lago_webhook_endpoint_id=lago_id, event_id=event.id))


@router.post("/{lago_id}/recover", response_model=RecoveryResponse,
             summary="Re-queue the endpoint's failed deliveries created since a time")
async def recover_webhook_endpoint(
    lago_id: uuid.UUID, session: DbSession, principal: AdminPrincipal, runtime: Runtime,
    since: Annotated[Moment, Query(description="RFC 3339 (no offset: UTC); created at or after it")],
    until: Annotated[Moment | None, Query(description="RFC 3339 (no offset: UTC); created before it")] = None,
) -> RecoveryResponse:
    count = await recover.recover_failed(session, principal, lago_id, since, runtime, until)
    return RecoveryResponse(
        recovery=RecoveryObject(lago_webhook_endpoint_id=lago_id, since=since, requeued_count=count)
    )
