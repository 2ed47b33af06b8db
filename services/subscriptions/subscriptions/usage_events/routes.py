"""HTTP routes for usage events (`/api/v1/events`, Lago's shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from invora.errors import NotFound, ValidationFailed
from invora.web.deps import DbSession
from invora.web.pagination import Pagination
from subscriptions.common.auth import Reader, Writer
from subscriptions.common.clock import now
from subscriptions.common.errors import LIST_ERRORS, READ_ERRORS, UNAVAILABLE, WRITE_ERRORS
from subscriptions.common.inputs import EARLIEST_DATE, LATEST_DATE, storable_key
from subscriptions.plans.client import catalog_of
from subscriptions.usage_events import service
from subscriptions.usage_events.metrics import metric_cache_of
from subscriptions.usage_events.schemas import (
    EventBatchBody,
    EventBody,
    EventResponse,
    EventsPage,
    EventsResponse,
)

router = APIRouter(prefix="/api/v1/events", tags=["events"])
INGEST_DOC = ("A 2xx means the events are committed to PostgreSQL. A transaction id already stored for the "
              "subscription is answered with the stored event and `duplicate: true`, and counted once. ")


@router.post("", response_model=EventResponse, responses={**WRITE_ERRORS, **UNAVAILABLE},
             summary="Send a usage event", description=INGEST_DOC)
async def create_event(body: EventBody, session: DbSession, principal: Writer, request: Request) -> Response:
    answer = await service.ingest(session, catalog_of(request), metric_cache_of(request.app),
                                  principal.organization_id, [body.event], now(request), batch=False)
    return _json(answer)


@router.post("/batch", response_model=EventsResponse, responses={**WRITE_ERRORS, **UNAVAILABLE},
             summary="Send up to 1,000 usage events",
             description=INGEST_DOC + "All or nothing: if any event is invalid, none is stored and the 422's "
                                      "`error_details` maps each invalid event's index to its field errors.")
async def create_batch(body: EventBatchBody, session: DbSession, principal: Writer, request: Request) -> Response:
    answer = await service.ingest(session, catalog_of(request), metric_cache_of(request.app),
                                  principal.organization_id, body.events, now(request), batch=True)
    return _json(answer)


def _json(answer: bytes) -> Response:
    # already JSON (`EventObject`'s shape, see `answers`): skip re-validating a thousand response models
    return Response(answer, media_type="application/json")


@router.get("", response_model=EventsPage, responses=LIST_ERRORS, summary="List usage events",
            description="Newest first. Filters: `external_subscription_id`, `code`, `timestamp_from`, `timestamp_to`.")
async def list_events(
    session: DbSession, principal: Reader, page: Pagination,
    external_subscription_id: Annotated[str | None, Query(max_length=255)] = None,
    code: Annotated[str | None, Query(max_length=255)] = None,
    timestamp_from: datetime | None = None,
    timestamp_to: datetime | None = None,
) -> EventsPage:
    for name, value in (("external_subscription_id", external_subscription_id), ("code", code)):
        if value is not None and not storable_key(value):
            raise ValidationFailed({name: ["value_is_invalid"]})
    for name, instant in (("timestamp_from", timestamp_from), ("timestamp_to", timestamp_to)):
        if instant is not None and (instant.tzinfo is None or not EARLIEST_DATE <= instant <= LATEST_DATE):
            raise ValidationFailed({name: ["invalid_date"]})
    filters = service.EventFilters(external_subscription_id=external_subscription_id, code=code,
                                   timestamp_from=timestamp_from, timestamp_to=timestamp_to)
    rows, meta = await service.list_events(session, principal.organization_id, filters, page)
    return EventsPage(events=[service.render(row) for row in rows], meta=meta)


@router.get("/{transaction_id}", response_model=EventResponse, responses=READ_ERRORS, summary="Retrieve an event")
async def get_event(session: DbSession, principal: Reader,
                    transaction_id: Annotated[str, Path(description="URL-encoded transaction id.")]) -> EventResponse:
    if not storable_key(transaction_id):
        raise NotFound("event")
    return EventResponse(event=service.render(await service.get_event(session, principal.organization_id,
                                                                      transaction_id)))
