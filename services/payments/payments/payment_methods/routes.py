"""HTTP routes for payment methods (Lago API v1): `/api/v1/customers/{external_customer_id}/payment_methods`.

These routes call the provider, so they take the database's sessionmaker rather than the request's
session: what they read is read in a transaction that ends before the call.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from invora.auth.deps import ReaderOrTenant, Writer
from invora.ids import parse_uuid
from invora.web.error_docs import LIST_ERRORS, NOT_ALLOWED, NOT_FOUND, WRITE_ERRORS, ApiError, response
from invora.web.pagination import Pagination
from payments.customers import service as customers
from payments.payment_methods import service
from payments.payment_methods.schemas import PaymentMethodResponse, PaymentMethodsResponse
from payments.runtime import Runtime

router = APIRouter(prefix="/api/v1/customers/{external_customer_id}/payment_methods", tags=["payment_methods"])
ExternalCustomerId = Annotated[str, Path(description="The customer's external id.", max_length=255)]
MethodId = Annotated[str, Path(description="The payment method's lago_id.")]
PROVIDER_ERRORS = {400: response(ApiError, "The provider refused (`payment_provider_error`)."),
                   503: response(ApiError, "The provider did not answer (`payment_provider_unavailable`).")}


def _sessionmaker(request: Request):
    return request.app.state.database.sessionmaker


Sessions = Annotated[object, Depends(_sessionmaker)]


@router.get("", response_model=PaymentMethodsResponse, summary="List a customer's payment methods",
            responses={**LIST_ERRORS, **NOT_FOUND, **NOT_ALLOWED, **PROVIDER_ERRORS})
async def list_payment_methods(sessions: Sessions, runtime: Runtime, principal: ReaderOrTenant, page: Pagination,
                               external_customer_id: ExternalCustomerId) -> PaymentMethodsResponse:
    async with sessions() as session:  # a tenant key: the live customer of this external id must be its own
        await customers.ensure_external_customer_access(session, principal, external_customer_id)
    methods, meta = await service.list_methods(sessions, runtime.adapters, runtime.subscriptions,
                                               principal.organization_id, external_customer_id, page)
    return PaymentMethodsResponse(payment_methods=methods, meta=meta)


@router.put("/{lago_id}/set_as_default", response_model=PaymentMethodResponse,
            summary="Set the payment method as default", responses={**WRITE_ERRORS, **PROVIDER_ERRORS})
async def set_as_default(sessions: Sessions, runtime: Runtime, principal: Writer,
                         external_customer_id: ExternalCustomerId, lago_id: MethodId) -> PaymentMethodResponse:
    method = await service.set_default(sessions, runtime.adapters, runtime.subscriptions,
                                       principal.organization_id, external_customer_id, parse_uuid(lago_id))
    return PaymentMethodResponse(payment_method=method)


@router.delete("/{lago_id}", response_model=PaymentMethodResponse, summary="Delete a payment method",
               responses={**WRITE_ERRORS, **PROVIDER_ERRORS})
async def delete_payment_method(sessions: Sessions, runtime: Runtime, principal: Writer,
                                external_customer_id: ExternalCustomerId, lago_id: MethodId) -> PaymentMethodResponse:
    method = await service.delete(sessions, runtime.adapters, runtime.subscriptions,
                                  principal.organization_id, external_customer_id, parse_uuid(lago_id))
    return PaymentMethodResponse(payment_method=method)
