"""HTTP routes for payment requests (Lago API v1): `POST/GET /api/v1/payment_requests`,
`GET /api/v1/payment_requests/{lago_id}`, `GET /api/v1/customers/{external_customer_id}/payment_requests`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from invora.auth.deps import ReaderOrTenant, Writer, ensure_customer_access, is_staff
from invora.auth.principal import Principal
from invora.ids import parse_uuid
from invora.runtime import Now
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_FOUND, READ_ERRORS
from invora.web.pagination import Pagination
from payments.customers import service as customers
from payments.payment_requests import service
from payments.payment_requests.schemas import PaymentRequestBody, PaymentRequestResponse, PaymentRequestsResponse
from payments.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["payment_requests"])
Status = Literal["pending", "succeeded", "failed"]
Currency = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")]


def _tenant_scope(principal: Principal):
    return None if is_staff(principal) else principal.customer_id


@router.post("/payment_requests", response_model=PaymentRequestResponse, summary="Create a payment request",
             description="Bundles the customer's unpaid, finalized invoices into one amount (what each still owes) "
                         "and charges it once through the customer's provider, or leaves it for manual payment "
                         "when it has none. 422 `lago_invoice_ids`: `invalid_invoice` (not the customer's, not "
                         "finalized), `invoice_already_paid`, `currencies_do_not_match`; `base`: "
                         "`payment_in_progress` (a charge of one of them is under way).",
             responses={**CREATE_ERRORS, **NOT_FOUND})
async def create_payment_request(body: PaymentRequestBody, session: DbSession, principal: Writer, now: Now,
                                 runtime: Runtime) -> PaymentRequestResponse:
    request, attempt = await service.create(session, runtime.subscriptions, principal.organization_id,
                                             body.payment_request, now=now)
    if attempt is not None:
        runtime.wake_charger()  # the charger also comes by on its interval, after this request commits
    return PaymentRequestResponse(payment_request=request)


@router.get("/payment_requests", response_model=PaymentRequestsResponse, responses=LIST_ERRORS,
            summary="List all payment requests")
async def list_payment_requests(session: DbSession, principal: ReaderOrTenant, page: Pagination,
                                external_customer_id: Annotated[str | None, Query(max_length=255)] = None,
                                payment_status: Annotated[Status | None, Query()] = None,
                                currency: Currency = None) -> PaymentRequestsResponse:
    requests, meta = await service.list_requests(
        session, principal.organization_id, external_customer_id=external_customer_id,
        customer_id=_tenant_scope(principal), payment_status=payment_status, currency=currency, params=page)
    return PaymentRequestsResponse(payment_requests=requests, meta=meta)


@router.get("/payment_requests/{lago_id}", response_model=PaymentRequestResponse, responses=READ_ERRORS,
            summary="Retrieve a payment request")
async def get_payment_request(session: DbSession, principal: ReaderOrTenant,
                              lago_id: Annotated[str, Path(description="The payment request's lago_id.")]
                              ) -> PaymentRequestResponse:
    request = await service.get(session, principal.organization_id, parse_uuid(lago_id))
    ensure_customer_access(principal, request.customer.lago_id)
    return PaymentRequestResponse(payment_request=request)


@router.get("/customers/{external_customer_id}/payment_requests", response_model=PaymentRequestsResponse,
            responses=LIST_ERRORS, summary="List a customer's payment requests")
async def list_customer_payment_requests(session: DbSession, principal: ReaderOrTenant, page: Pagination,
                                         external_customer_id: Annotated[str, Path(max_length=255)],
                                         payment_status: Annotated[Status | None, Query()] = None,
                                         currency: Currency = None) -> PaymentRequestsResponse:
    await customers.ensure_external_customer_access(session, principal, external_customer_id)
    requests, meta = await service.list_requests(
        session, principal.organization_id, external_customer_id=external_customer_id,
        customer_id=_tenant_scope(principal), payment_status=payment_status, currency=currency, params=page)
    return PaymentRequestsResponse(payment_requests=requests, meta=meta)
