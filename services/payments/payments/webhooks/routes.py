"""Provider webhooks: `POST /api/v1/provider_webhooks/{provider}/{organization_id}?code=`.

Lago serves `/webhooks/stripe/{organization_id}`; under `/api/v1/webhooks/` the notifications service
already routes its own resources, hence `provider_webhooks`.

No API key: the provider signs the body (the connection's webhook secret), and a body that does not
verify gets 400 and changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from invora.runtime import Now
from invora.web.deps import DbSession
from invora.web.error_docs import NOT_FOUND, UNPROCESSABLE, ApiError, response
from payments.providers.base import ProviderType
from payments.runtime import Runtime
from payments.webhooks import service

router = APIRouter(prefix="/api/v1/provider_webhooks", tags=["provider_webhooks"])


@router.post("/{provider_type}/{organization_id}", summary="Receive a payment provider's webhook",
             responses={400: response(ApiError, "Signature missing or invalid (`invalid_webhook_signature`)."),
                        **NOT_FOUND, **UNPROCESSABLE})
async def receive_webhook(request: Request, session: DbSession, runtime: Runtime, now: Now,
                          provider_type: Annotated[ProviderType, Path()],
                          organization_id: Annotated[uuid.UUID, Path()],
                          code: Annotated[str, Query(min_length=1, max_length=255)]) -> dict:
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    outcomes = await service.handle(session, runtime.adapters, provider_type=provider_type,
                                    organization_id=organization_id, code=code, body=body, headers=headers, now=now)
    # `outcome`: the first event's (most providers send one per webhook); `outcomes`: each event's, in order
    return {"received": True, "outcome": outcomes[0] if outcomes else "ignored", "outcomes": outcomes}
