"""HTTP routes for provider connections: `/api/v1/payment_providers` (by code)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from invora.auth.deps import Reader, Writer
from invora.runtime import Now
from invora.web.deps import DbSession
from invora.web.error_docs import (
    CREATE_ERRORS,
    LIST_ERRORS,
    NOT_ALLOWED,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiError,
    response,
)
from invora.web.pagination import Pagination
from payments.payment_providers import service
from payments.payment_providers.schemas import (
    PaymentProviderCreateBody,
    PaymentProviderResponse,
    PaymentProvidersResponse,
    PaymentProviderUpdateBody,
)
from payments.runtime import Runtime

router = APIRouter(prefix="/api/v1/payment_providers", tags=["payment_providers"])
Code = Annotated[str, Path(description="The connection's code, unique per organization.")]


@router.post("", response_model=PaymentProviderResponse, responses={
                 **CREATE_ERRORS, 400: response(ApiError, "MoneyHash refused the API key while its webhook signature "
                                                          "key was asked for (`payment_provider_error`)."),
                 503: response(ApiError, "MoneyHash did not answer (`payment_provider_unavailable`).")},
             summary="Connect a payment provider")
async def create_provider(body: PaymentProviderCreateBody, session: DbSession, principal: Writer,
                          now: Now, runtime: Runtime) -> PaymentProviderResponse:
    provider = await service.create(session, principal.organization_id, body.payment_provider, now=now,
                                    adapters=runtime.adapters)
    return PaymentProviderResponse(payment_provider=service.render(provider))


@router.get("", response_model=PaymentProvidersResponse, responses=LIST_ERRORS, summary="List payment providers")
async def list_providers(session: DbSession, principal: Reader, page: Pagination) -> PaymentProvidersResponse:
    providers, meta = await service.list_providers(session, principal.organization_id, page)
    return PaymentProvidersResponse(payment_providers=providers, meta=meta)


@router.get("/{code}", response_model=PaymentProviderResponse, responses=READ_ERRORS,
            summary="Retrieve a payment provider")
async def get_provider(session: DbSession, principal: Reader, code: Code) -> PaymentProviderResponse:
    return PaymentProviderResponse(payment_provider=service.render(
        await service.get(session, principal.organization_id, code)))


@router.put("/{code}", response_model=PaymentProviderResponse, responses=WRITE_ERRORS,
            summary="Update a payment provider")
async def update_provider(body: PaymentProviderUpdateBody, session: DbSession, principal: Writer, now: Now,
                          code: Code) -> PaymentProviderResponse:
    provider = await service.get(session, principal.organization_id, code, lock=True)
    provider = await service.update(session, provider, body.payment_provider, now=now)
    return PaymentProviderResponse(payment_provider=service.render(provider))


@router.delete("/{code}", response_model=PaymentProviderResponse, responses={**WRITE_ERRORS, **NOT_ALLOWED},
               summary="Disconnect a payment provider")
async def delete_provider(session: DbSession, principal: Writer, code: Code) -> PaymentProviderResponse:
    provider = await service.get(session, principal.organization_id, code, lock=True)
    return PaymentProviderResponse(payment_provider=await service.delete(session, provider))
