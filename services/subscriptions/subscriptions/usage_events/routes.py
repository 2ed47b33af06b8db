"""HTTP routes for usage events (`/api/v1/events`, Lago's shapes)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from invora.auth.deps import Reader, Writer
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, response
from invora.web.error_handlers import validation_details
from invora.web.fields import Code, Timestamp
from invora.web.inputs import storable_key
from invora.web.pagination import Pagination
from subscriptions.plans.client import catalog_of
from subscriptions.plans.errors import UNAVAILABLE
from subscriptions.usage_events import service
from subscriptions.usage_events.errors import EventNotFound
from subscriptions.usage_events.ingest import BatchValidationFailed
from subscriptions.usage_events.metrics import metric_cache_of
from subscriptions.usage_events.schemas import (
    BatchValidationErrorBody,
    EventBatchBody,
    EventBody,
    EventResponse,
    EventsPage,
    EventsResponse,
)


def _by_index(errors: list[dict[str, Any]]) -> dict[int, dict[str, list[str]]] | None:
    """The errors keyed by item index then field, if every one is inside an item of a list in the body."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if len(loc) < 3 or loc[0] != "body" or not isinstance(loc[1], str) or not isinstance(loc[2], int):
            return None
        # ("body", root, field…) is what `validation_details` names `field…`; the item itself is named by its list
        grouped.setdefault(loc[2], []).append({**error, "loc": ("body", loc[1], *loc[3:]) if loc[3:] else
                                               ("body", loc[1])})
    return {index: validation_details(item_errors) for index, item_errors in grouped.items()}


class IndexedErrorsRoute(APIRoute):
    """A route whose 422 on the items of a list in the body is keyed by item index, then field (Lago's batches)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                by_index = _by_index(list(exc.errors()))
                if by_index is None:
                    raise
                raise BatchValidationFailed(by_index) from None

        return route


router = APIRouter(prefix="/api/v1/events", tags=["events"], route_class=IndexedErrorsRoute)
INGEST_DOC = ("A 2xx means the events are committed to PostgreSQL. A transaction id already stored for the "
              "subscription is answered with the stored event and `duplicate: true`, and counted once. ")


@router.post("", response_model=EventResponse, responses={**WRITE_ERRORS, **UNAVAILABLE},
             summary="Send a usage event", description=INGEST_DOC)
async def create_event(body: EventBody, session: DbSession, principal: Writer, request: Request) -> Response:
    answer = await service.ingest(session, catalog_of(request), metric_cache_of(request.app),
                                  principal.organization_id, [body.event], now(request), batch=False)
    return _json(answer)


@router.post("/batch", response_model=EventsResponse, summary="Send up to 1,000 usage events",
             responses={**WRITE_ERRORS, **UNAVAILABLE, 422: response(
                 BatchValidationErrorBody, "Validation failed; nothing was saved. `error_details` is keyed by the "
                                           "index of each invalid event, then by field.")},
             description=INGEST_DOC + "All or nothing: if any event is invalid, none is stored and the 422's "
                                      "`error_details` maps each invalid event's index to its field errors. "
                                      "The body may be up to 5 MiB (413 above).")
async def create_batch(body: EventBatchBody, session: DbSession, principal: Writer, request: Request) -> Response:
    answer = await service.ingest(session, catalog_of(request), metric_cache_of(request.app),
                                  principal.organization_id, body.events, now(request), batch=True)
    return _json(answer)


def _json(answer: bytes) -> Response:
    # already JSON (`EventObject`'s shape, see `answers`): skip re-validating a thousand response models
    return Response(answer, media_type="application/json")


@router.get("", response_model=EventsPage, responses=LIST_ERRORS, summary="List usage events",
            description="Newest first. Filters: `external_subscription_id`, `code` (non-empty when given), "
                        "`timestamp_from`, `timestamp_to` (RFC 3339; without an offset: UTC; both inclusive).")
async def list_events(
    session: DbSession, principal: Reader, page: Pagination,
    external_subscription_id: Annotated[Code | None, Query()] = None,
    code: Annotated[Code | None, Query()] = None,
    timestamp_from: Annotated[Timestamp | None, Query(description="Events at or after it.")] = None,
    timestamp_to: Annotated[Timestamp | None, Query(description="Events at or before it.")] = None,
) -> EventsPage:
    filters = service.EventFilters(external_subscription_id=external_subscription_id, code=code,
                                   timestamp_from=timestamp_from, timestamp_to=timestamp_to)
    rows, meta = await service.list_events(session, principal.organization_id, filters, page)
    return EventsPage(events=[service.render(row) for row in rows], meta=meta)


@router.get("/{transaction_id}", response_model=EventResponse, responses=READ_ERRORS, summary="Retrieve an event")
async def get_event(session: DbSession, principal: Reader,
                    transaction_id: Annotated[str, Path(description="URL-encoded transaction id.")]) -> EventResponse:
    if not storable_key(transaction_id):
        raise EventNotFound()
    return EventResponse(event=service.render(await service.get_event(session, principal.organization_id,
                                                                      transaction_id)))
