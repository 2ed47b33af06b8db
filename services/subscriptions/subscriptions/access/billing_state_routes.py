"""HTTP routes for a customer's billing state, its admin overrides and their audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from invora.auth.deps import Reader, ReaderOrTenant, require_roles
from invora.auth.principal import Principal
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination
from subscriptions.access import billing_state
from subscriptions.access.schemas import (
    BillingStateAuditsResponse,
    BillingStateOverrideBody,
    BillingStateResponse,
)
from subscriptions.customers.access import accessible_customer

router = APIRouter(prefix="/api/v1/customers/{external_customer_id}/billing_state", tags=["billing_state"])
ExternalId = Path(description="The customer's external id.")
# customer billing-state overrides: billing_admin (super_admin always passes)
BillingAdmin = Annotated[Principal, Depends(require_roles("billing_admin"))]


@router.get("", response_model=BillingStateResponse, responses=READ_ERRORS, summary="Retrieve a billing state")
async def get_billing_state(session: DbSession, principal: ReaderOrTenant,
                            external_customer_id: str = ExternalId) -> BillingStateResponse:
    customer = await accessible_customer(session, principal, external_customer_id)
    return BillingStateResponse(billing_state=billing_state.render_state(customer))


@router.post("/overrides", response_model=BillingStateResponse, responses=WRITE_ERRORS,
             summary="Override a billing state",
             description="Billing admins (or super admins) set the contract mode, force a state and/or add grace "
                         "days, with a required reason. Recorded in the audit log; publishes "
                         "`customer.billing_state_changed`.")
async def override_billing_state(body: BillingStateOverrideBody, session: DbSession, principal: BillingAdmin,
                                 request: Request, external_customer_id: str = ExternalId) -> BillingStateResponse:
    customer = await billing_state.override(session, principal, external_customer_id, body.billing_state_override,
                                            now(request))
    return BillingStateResponse(billing_state=billing_state.render_state(customer))


@router.get("/audit", response_model=BillingStateAuditsResponse, responses=READ_ERRORS,
            summary="List billing-state overrides", description="Newest first: who, when, what changed, why.")
async def list_billing_state_audit(session: DbSession, principal: Reader, page: Pagination,
                                   external_customer_id: str = ExternalId) -> BillingStateAuditsResponse:
    customer, rows, meta = await billing_state.audit_log(session, principal, external_customer_id, page)
    return BillingStateAuditsResponse(
        billing_state_audits=[billing_state.render_audit(row, customer) for row in rows], meta=meta)
