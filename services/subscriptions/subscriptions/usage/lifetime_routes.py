"""HTTP routes for lifetime usage (`/api/v1/subscriptions/{external_id}/lifetime_usage`, Lago's shapes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from invora.auth.deps import Reader, Writer
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import READ_ERRORS, WRITE_ERRORS
from invora.web.inputs import InputModel, StrictInt, storable_key
from subscriptions.plans.client import catalog_of
from subscriptions.plans.errors import UNAVAILABLE
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.usage import lifetime
from subscriptions.usage_events.metrics import metric_cache_of

router = APIRouter(prefix="/api/v1/subscriptions", tags=["usage"])
ExternalId = Annotated[str, Path(description="The subscription's external id.")]
MAX_CENTS = 10**15


class LifetimeUsageInput(InputModel):
    """An integer, as the schema says: 100 and 100.0 alike (JSON Schema counts both as integers), not "100"."""

    external_historical_usage_amount_cents: Annotated[StrictInt, Field(ge=0, le=MAX_CENTS)]


class LifetimeUsageBody(BaseModel):
    lifetime_usage: LifetimeUsageInput


def _check(external_id: str) -> None:
    if not storable_key(external_id):
        raise SubscriptionNotFound()


@router.get("/{external_id}/lifetime_usage", responses={**READ_ERRORS, **UNAVAILABLE},
            summary="Retrieve a subscription's lifetime usage",
            description="The declared historical amount, the usage amount every closed billing period billed, and "
                        "the open period's current usage (before taxes), with the progress towards the usage "
                        "thresholds (progressive billing).")
async def get_lifetime_usage(external_id: ExternalId, session: DbSession, principal: Reader,
                             request: Request) -> Any:
    _check(external_id)
    return await lifetime.answer(session, catalog_of(request), metric_cache_of(request.app), principal.organization_id,
                         external_id, now(request))


@router.put("/{external_id}/lifetime_usage", responses={**WRITE_ERRORS, **UNAVAILABLE},
            summary="Update a subscription's lifetime usage",
            description="Sets `external_historical_usage_amount_cents`: usage from before Invora that counts towards "
                        "lifetime thresholds and `lifetime_usage_amount` alerts.")
async def update_lifetime_usage(external_id: ExternalId, body: LifetimeUsageBody, session: DbSession,
                                principal: Writer, request: Request) -> Any:
    _check(external_id)
    return await lifetime.answer(session, catalog_of(request), metric_cache_of(request.app), principal.organization_id,
                         external_id, now(request), body.lifetime_usage.external_historical_usage_amount_cents)
