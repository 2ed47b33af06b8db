"""HTTP routes for unit credits (seed 002): `/api/v1/customers/{external_customer_id}/unit_credits`,
`/api/v1/unit_credits/{lago_id}/void`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.engine import RowMapping

from invora.auth.deps import ReaderOrTenant, Writer, require_roles
from invora.auth.principal import Principal
from invora.ids import parse_uuid
from invora.runtime import Now
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_ALLOWED, NOT_FOUND, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination
from wallets.customers import service as customers
from wallets.ledger.format import credits_text
from wallets.runtime import Subscriptions
from wallets.unit_credits import service
from wallets.unit_credits.schemas import (
    UnitCreditApplicationBody,
    UnitCreditApplicationObject,
    UnitCreditApplicationResponse,
    UnitCreditBody,
    UnitCreditObject,
    UnitCreditResponse,
    UnitCreditsResponse,
    UnitCreditVoidBody,
)

customer_router = APIRouter(prefix="/api/v1/customers/{external_customer_id}/unit_credits", tags=["credits"])
router = APIRouter(prefix="/api/v1/unit_credits", tags=["credits"])
ExternalCustomerId = Annotated[str, Path(description="The customer's external id.")]
Applier = Annotated[Principal, Depends(require_roles("service", "admin", "billing_admin"))]


def render(row: RowMapping) -> UnitCreditObject:
    return UnitCreditObject(
        lago_id=str(row["id"]), lago_customer_id=str(row["customer_id"]),
        external_customer_id=row["external_customer_id"], billable_metric_code=row["billable_metric_code"],
        units=credits_text(row["units"]), remaining_units=credits_text(row["remaining_units"]),
        priority=row["priority"],
        expiration_at=row["expiration_at"].isoformat() if row["expiration_at"] else None, reason=row["reason"],
        status=row["status"], ended_at=row["ended_at"].isoformat() if row["ended_at"] else None,
        end_reason=row["end_reason"], created_at=row["created_at"].isoformat())


@customer_router.post("", response_model=UnitCreditResponse, responses={**CREATE_ERRORS, **NOT_FOUND},
                      summary="Grant unit credits",
                      description="Seed 002: units of a billable metric (e.g. 10,000 API calls), consumed before "
                                  "the metric's units are priced; their own block with priority and expiry.")
async def grant_unit_credits(external_customer_id: ExternalCustomerId, body: UnitCreditBody, session: DbSession,
                             principal: Writer, now: Now, subscriptions: Subscriptions) -> UnitCreditResponse:
    customer = await customers.get_or_fetch(session, subscriptions, principal.organization_id, external_customer_id)
    data = body.unit_credit
    row = await service.grant(session, customer, metric_code=data.billable_metric_code, units=data.units,
                              reason=data.reason, now=now, priority=data.priority or 50,
                              expiration_at=data.expiration_at, actor=principal.subject)
    return UnitCreditResponse(unit_credit=render(row))


@customer_router.get("", response_model=UnitCreditsResponse, responses={**READ_ERRORS, **LIST_ERRORS},
                     summary="List a customer's unit credits", description="Newest first; filters "
                                                                         "`billable_metric_code`, `status`.")
async def list_unit_credits(external_customer_id: ExternalCustomerId, session: DbSession, principal: ReaderOrTenant,
                            page: Pagination, subscriptions: Subscriptions,
                            billable_metric_code: Annotated[str | None, Query(max_length=255)] = None,
                            status: Annotated[str | None, Query(pattern="^(active|voided|expired)$")] = None,
                            ) -> UnitCreditsResponse:
    await customers.ensure_external_customer_access(session, principal, external_customer_id)
    customer = await customers.get_or_fetch(session, subscriptions, principal.organization_id, external_customer_id)
    rows, meta = await service.page(session, principal.organization_id, customer["id"], billable_metric_code,
                                    status, page)
    return UnitCreditsResponse(unit_credits=[render(r) for r in rows], meta=meta)


@router.post("/applications", response_model=UnitCreditApplicationResponse, responses={**CREATE_ERRORS, **NOT_FOUND},
             summary="Offset an invoice's units of a metric with unit credits",
             description="For the invoicing service, before it prices a charge: takes up to `units` from the "
                         "customer's live grants of the metric (priority, soonest expiry, oldest) and answers how "
                         "many, once per (invoice, metric): asked again, the same answer and nothing moves. The "
                         "invoice's void (`invoice.prepaid_credits_release_requested`) gives them back. Roles: "
                         "`service`, `admin`, `billing_admin`.")
async def apply_unit_credits(body: UnitCreditApplicationBody, session: DbSession, principal: Applier,
                             now: Now, subscriptions: Subscriptions) -> UnitCreditApplicationResponse:
    data = body.unit_credit_application
    invoice_id = data.lago_invoice_id
    customer = await customers.get_or_fetch(session, subscriptions, principal.organization_id,
                                            data.external_customer_id)
    applied = await service.consume(session, principal.organization_id, customer["id"], invoice_id,
                                    data.billable_metric_code, data.units, now)
    return UnitCreditApplicationResponse(unit_credit_application=UnitCreditApplicationObject(
        lago_invoice_id=str(invoice_id), billable_metric_code=data.billable_metric_code,
        requested_units=credits_text(data.units), applied_units=credits_text(applied)))


@router.post("/{lago_id}/void", response_model=UnitCreditResponse, responses={**WRITE_ERRORS, **NOT_ALLOWED},
             summary="Void a unit credit grant",
             description="What is left is removed (never what was consumed), once; `reason` required.")
async def void_unit_credit(lago_id: Annotated[str, Path()], body: UnitCreditVoidBody, session: DbSession,
                           principal: Writer, now: Now) -> UnitCreditResponse:
    row = await service.void(session, principal.organization_id, parse_uuid(lago_id), body.unit_credit.reason, now)
    return UnitCreditResponse(unit_credit=render(row))
