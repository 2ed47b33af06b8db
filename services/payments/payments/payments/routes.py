"""HTTP routes for payments (Lago API v1): `POST/GET /api/v1/payments`, `GET /api/v1/payments/{lago_id}`,
`GET /api/v1/customers/{external_customer_id}/payments`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from invora.auth.deps import ReaderOrTenant, Writer, ensure_customer_access, is_staff
from invora.auth.principal import Principal
from invora.ids import parse_uuid
from invora.runtime import Now
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_ALLOWED, NOT_FOUND, READ_ERRORS
from invora.web.pagination import Pagination
from payments.customers import service as customers
from payments.payments import service
from payments.payments.schemas import (
    ManualPaymentBody,
    PaymentResponse,
    PaymentsResponse,
    RetryPaymentBody,
    RetryPaymentResponse,
)
from payments.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["payments"])


def _tenant_scope(principal: Principal) -> uuid.UUID | None:
    """A tenant key lists its own customer's payments (by internal id) whatever it asks for."""
    return None if is_staff(principal) else principal.customer_id


@router.post("/payments", response_model=PaymentResponse, responses={**CREATE_ERRORS, **NOT_FOUND, **NOT_ALLOWED},
             summary="Create a manual payment")
async def create_payment(body: ManualPaymentBody, session: DbSession, principal: Writer, now: Now) -> PaymentResponse:
    return PaymentResponse(payment=await service.create_manual(session, principal.organization_id, body.payment,
                                                               now=now))


@router.get("/payments", response_model=PaymentsResponse, responses=LIST_ERRORS, summary="List payments")
async def list_payments(session: DbSession, principal: ReaderOrTenant, page: Pagination,
                        external_customer_id: Annotated[str | None, Query(max_length=255)] = None,
                        invoice_id: Annotated[uuid.UUID | None, Query()] = None) -> PaymentsResponse:
    payments, meta = await service.list_payments(session, principal.organization_id,
                                                 external_customer_id=external_customer_id,
                                                 customer_id=_tenant_scope(principal), invoice_id=invoice_id,
                                                 params=page)
    return PaymentsResponse(payments=payments, meta=meta)


@router.get("/payments/{lago_id}", response_model=PaymentResponse, responses=READ_ERRORS,
            summary="Retrieve a payment")
async def get_payment(session: DbSession, principal: ReaderOrTenant,
                      lago_id: Annotated[str, Path(description="The payment's lago_id.")]) -> PaymentResponse:
    payment = await service.get(session, principal.organization_id, parse_uuid(lago_id))
    ensure_customer_access(principal, payment.lago_customer_id)
    return PaymentResponse(payment=payment)


@router.get("/customers/{external_customer_id}/payments", response_model=PaymentsResponse, responses=LIST_ERRORS,
            summary="List a customer's payments")
async def list_customer_payments(session: DbSession, principal: ReaderOrTenant, page: Pagination,
                                 external_customer_id: Annotated[str, Path()],
                                 invoice_id: Annotated[uuid.UUID | None, Query()] = None) -> PaymentsResponse:
    await customers.ensure_external_customer_access(session, principal, external_customer_id)
    payments, meta = await service.list_payments(session, principal.organization_id,
                                                 external_customer_id=external_customer_id,
                                                 customer_id=_tenant_scope(principal), invoice_id=invoice_id,
                                                 params=page)
    return PaymentsResponse(payments=payments, meta=meta)


@router.post("/invoices/{lago_id}/retry_payment", response_model=RetryPaymentResponse,
             responses={**CREATE_ERRORS, **NOT_FOUND, **NOT_ALLOWED}, summary="Retry an invoice payment",
             description="A new charge attempt for what the finalized invoice still owes, through the customer's "
                         "provider and default payment method (the charger sends it, never twice). 405 "
                         "`invoice_not_payable` (not finalized, nothing due); 422 `base`: `payment_in_progress` "
                         "(a charge of it is under way), `no_linked_payment_provider`; `payment_method`: "
                         "`not_supported` (a method other than the default).")
async def retry_payment(session: DbSession, principal: Writer, runtime: Runtime,
                        lago_id: Annotated[str, Path(description="The invoice's lago_id.")],
                        body: RetryPaymentBody | None = None) -> RetryPaymentResponse:
    method = body.payment_method.payment_method_id if body and body.payment_method else None
    payment = await service.retry_payment(session, principal.organization_id, parse_uuid(lago_id), method)
    runtime.wake_charger()  # it also comes by on its interval, after this request commits
    return RetryPaymentResponse(payment=payment)
