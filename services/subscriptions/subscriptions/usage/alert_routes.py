"""HTTP routes for usage alerts (`/api/v1/subscriptions/{external_id}/alerts`, Lago's shapes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from invora.errors import NotFound
from invora.web.deps import DbSession
from subscriptions.common.auth import Reader, Writer
from subscriptions.common.errors import READ_ERRORS, WRITE_ERRORS
from subscriptions.common.inputs import storable_key
from subscriptions.usage import alerts
from subscriptions.usage.alerts import AlertInput

router = APIRouter(prefix="/api/v1/subscriptions", tags=["alerts"])
ExternalId = Annotated[str, Path(description="The subscription's external id.")]


class AlertBody(BaseModel):
    alert: AlertInput


def _check(external_id: str, code: str | None = None) -> None:
    if not storable_key(external_id) or (code is not None and not storable_key(code)):
        raise NotFound("alert" if code is not None else "subscription")


@router.post("/{external_id}/alerts", responses=WRITE_ERRORS, summary="Create a usage alert",
             description="Types: current_usage_amount (cents), billable_metric_current_usage_amount (cents), "
                         "billable_metric_current_usage_units, lifetime_usage_amount (cents, see lifetime_usage). "
                         "Evaluated by the scheduler; each threshold crossing "
                         "publishes `alert.triggered` once.")
async def create_alert(external_id: ExternalId, body: AlertBody, session: DbSession, principal: Writer) -> Any:
    _check(external_id)
    alert = await alerts.create(session, principal.organization_id, external_id, body.alert)
    return {"alert": alerts.render(alert)}


@router.get("/{external_id}/alerts", responses=READ_ERRORS, summary="List a subscription's usage alerts")
async def list_alerts(external_id: ExternalId, session: DbSession, principal: Reader) -> Any:
    _check(external_id)
    found = await alerts.find(session, principal.organization_id, external_id)
    return {"alerts": [alerts.render(a) for a in found],
            "meta": {"current_page": 1, "next_page": None, "prev_page": None, "total_pages": 1,
                     "total_count": len(found)}}


@router.get("/{external_id}/alerts/{code}", responses=READ_ERRORS, summary="Retrieve a usage alert")
async def get_alert(external_id: ExternalId, code: str, session: DbSession, principal: Reader) -> Any:
    _check(external_id, code)
    found = await alerts.find(session, principal.organization_id, external_id, code)
    if not found:
        raise NotFound("alert")
    return {"alert": alerts.render(found[0])}


@router.delete("/{external_id}/alerts/{code}", responses=WRITE_ERRORS, summary="Delete a usage alert")
async def delete_alert(external_id: ExternalId, code: str, session: DbSession, principal: Writer) -> Any:
    _check(external_id, code)
    return {"alert": alerts.render(await alerts.delete(session, principal.organization_id, external_id, code))}
