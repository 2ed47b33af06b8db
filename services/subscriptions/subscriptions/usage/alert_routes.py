"""HTTP routes for usage alerts (`/api/v1/subscriptions/{external_id}/alerts`, Lago's shapes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, response
from invora.web.inputs import storable_key
from invora.web.pagination import Pagination
from invora.web.schema_rules import given
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.usage import alerts
from subscriptions.usage.alerts import MAX_BATCH, AlertInput, AlertUpdateInput
from subscriptions.usage.errors import AlertMissing, AlertNotFound
from subscriptions.usage_events.routes import IndexedErrorsRoute
from subscriptions.usage_events.schemas import BatchValidationErrorBody

router = APIRouter(prefix="/api/v1/subscriptions", tags=["alerts"], route_class=IndexedErrorsRoute)
ExternalId = Annotated[str, Path(description="The subscription's external id.")]
Code = Annotated[str, Path(description="The alert's code.")]
TYPES_DOC = ("Types: current_usage_amount (cents), billable_metric_current_usage_amount (cents), "
             "billable_metric_current_usage_units, lifetime_usage_amount (cents, see lifetime_usage). "
             "Evaluated by the scheduler; each threshold crossing publishes `alert.triggered` once. ")


class AlertCreateBody(BaseModel):
    """One alert (`alert`), or several at once (`alerts`, which wins when both are given)."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [given("alert"), given("alerts")]})

    alert: AlertInput | None = None
    alerts: Annotated[list[AlertInput], Field(min_length=1, max_length=MAX_BATCH)] | None = None


class AlertUpdateBody(BaseModel):
    alert: AlertUpdateInput


def _check(external_id: str, code: str | None = None) -> None:
    if not storable_key(external_id) or (code is not None and not storable_key(code)):
        raise AlertNotFound() if code is not None else SubscriptionNotFound()


@router.post(
    "/{external_id}/alerts", summary="Create one or several usage alerts",
    responses={**WRITE_ERRORS, 422: response(BatchValidationErrorBody, "Validation failed; nothing was saved. "
                                             "For `alerts`, `error_details` is keyed by the invalid alert's index.")},
    description=TYPES_DOC + "Send `{\"alert\": {...}}` for one alert (answered `{\"alert\": {...}}`), or "
                            "`{\"alerts\": [...]}` for up to 100 (answered `{\"alerts\": [...]}`): all or nothing.")
async def create_alert(external_id: ExternalId, body: AlertCreateBody, session: DbSession,
                       principal: Writer) -> Any:
    _check(external_id)
    if body.alerts is not None:
        created = await alerts.create_many(session, principal.organization_id, external_id, body.alerts)
        return {"alerts": [alerts.render(a) for a in created]}
    if body.alert is None:  # Lago: `params.require(:alert)`
        raise AlertMissing()
    return {"alert": alerts.render(await alerts.create(session, principal.organization_id, external_id, body.alert))}


@router.get("/{external_id}/alerts", responses={**READ_ERRORS, **LIST_ERRORS},
            summary="List a subscription's usage alerts", description="Oldest first, paginated.")
async def list_alerts(external_id: ExternalId, session: DbSession, principal: Reader, page: Pagination) -> Any:
    _check(external_id)
    found, meta = await alerts.page(session, principal.organization_id, external_id, page)
    return {"alerts": [alerts.render(a) for a in found], "meta": meta.model_dump()}


@router.delete("/{external_id}/alerts", response_class=Response, responses=READ_ERRORS,
               summary="Delete all of a subscription's usage alerts",
               description="Answers 200 with an empty body, as Lago does.")
async def delete_all_alerts(external_id: ExternalId, session: DbSession, principal: Writer) -> Response:
    _check(external_id)
    await alerts.delete_all(session, principal.organization_id, external_id)
    return Response(status_code=200)


@router.get("/{external_id}/alerts/{code}", responses=READ_ERRORS, summary="Retrieve a usage alert")
async def get_alert(external_id: ExternalId, code: Code, session: DbSession, principal: Reader) -> Any:
    _check(external_id, code)
    return {"alert": alerts.render(await alerts.get(session, principal.organization_id, external_id, code))}


@router.put("/{external_id}/alerts/{code}", responses=WRITE_ERRORS, summary="Update a usage alert",
            description="Changes the given fields: `code`, `name`, `billable_metric_code` (billable metric alerts) "
                        "and `thresholds` (a non-empty list replaces them all). The last evaluated value is kept.")
async def update_alert(external_id: ExternalId, code: Code, body: AlertUpdateBody, session: DbSession,
                       principal: Writer) -> Any:
    _check(external_id, code)
    alert = await alerts.update(session, principal.organization_id, external_id, code, body.alert)
    return {"alert": alerts.render(alert)}


@router.delete("/{external_id}/alerts/{code}", responses=WRITE_ERRORS, summary="Delete a usage alert")
async def delete_alert(external_id: ExternalId, code: Code, session: DbSession, principal: Writer) -> Any:
    _check(external_id, code)
    return {"alert": alerts.render(await alerts.delete(session, principal.organization_id, external_id, code))}
