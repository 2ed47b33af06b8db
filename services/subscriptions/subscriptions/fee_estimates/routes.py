"""HTTP routes of the fee estimates (`/api/v1/events/estimate_fees`, `…/estimate_instant_fees`,
`…/batch_estimate_instant_fees`, Lago's shapes): what an event would cost on charges paid in advance.
Nothing is written."""

from __future__ import annotations

from fastapi import APIRouter, Request

from invora.auth.deps import ReaderOrTenant
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import WRITE_ERRORS, response
from subscriptions.fee_estimates import service
from subscriptions.fee_estimates.schemas import BatchEstimateBody, EstimateBody, FeesEstimate
from subscriptions.plans.client import catalog_of
from subscriptions.plans.errors import UNAVAILABLE
from subscriptions.usage_events.metrics import metric_cache_of
from subscriptions.usage_events.routes import IndexedErrorsRoute
from subscriptions.usage_events.schemas import BatchValidationErrorBody

router = APIRouter(prefix="/api/v1/events", tags=["events"], route_class=IndexedErrorsRoute)
ACCESS = ("Staff and service keys; a tenant key for its own customer's subscriptions (403 otherwise). "
          "Writes nothing. Taxes: the charge's, else the plan's.")


@router.post("/estimate_fees", response_model=FeesEstimate, responses={**WRITE_ERRORS, **UNAVAILABLE},
             summary="Estimate fees for a pay in advance charge",
             description="The fees the event would create now on the subscription's charges paid in advance: the "
                         "open period's units before and after it, priced with the charge (every model). " + ACCESS)
async def estimate_fees(body: EstimateBody, session: DbSession, principal: ReaderOrTenant,
                        request: Request) -> FeesEstimate:
    return FeesEstimate(fees=await service.estimate(session, catalog_of(request), metric_cache_of(request.app),
                                                    principal, body.event, now(request), instant=False))


@router.post("/estimate_instant_fees", response_model=FeesEstimate, responses={**WRITE_ERRORS, **UNAVAILABLE},
             summary="Estimate instant fees for a pay in advance charge",
             description="The event alone priced on the subscription's `standard` and `percentage` charges paid in "
                         "advance (no read of the period's usage). " + ACCESS)
async def estimate_instant_fees(body: EstimateBody, session: DbSession, principal: ReaderOrTenant,
                                request: Request) -> FeesEstimate:
    return FeesEstimate(fees=await service.estimate(session, catalog_of(request), metric_cache_of(request.app),
                                                    principal, body.event, now(request), instant=True))


@router.post("/batch_estimate_instant_fees", response_model=FeesEstimate,
             responses={**WRITE_ERRORS, **UNAVAILABLE, 422: response(
                 BatchValidationErrorBody, "`error_details` keyed by the index of each invalid event, then field.")},
             summary="Batch estimate instant fees for a pay in advance charge",
             description="Up to 100 events (each as Lago's clients send it, or wrapped as `{\"event\": {...}}`); "
                         "the fees of all, in order. " + ACCESS)
async def batch_estimate_instant_fees(body: BatchEstimateBody, session: DbSession, principal: ReaderOrTenant,
                                      request: Request) -> FeesEstimate:
    return FeesEstimate(fees=await service.estimate_many(session, catalog_of(request), metric_cache_of(request.app),
                                                         principal, body.events, now(request)))
