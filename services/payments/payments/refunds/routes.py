"""HTTP routes for refunds: `POST /api/v1/payments/{lago_id}/refunds`, `GET /api/v1/refunds/{lago_id}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from invora.auth.deps import Reader, require_roles
from invora.auth.principal import Principal
from invora.ids import parse_uuid
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, NOT_ALLOWED, NOT_FOUND, READ_ERRORS, ApiError, response
from payments.refunds import service
from payments.refunds.schemas import RefundBody, RefundResponse
from payments.runtime import Runtime

# refunds move money back: billing_admin (admin holds every right)
Refunder = Annotated[Principal, Depends(require_roles("billing_admin", "admin"))]

router = APIRouter(prefix="/api/v1", tags=["refunds"])


CONFLICT = {409: response(ApiError, "The idempotency key was used for another refund.")}


@router.post("/payments/{lago_id}/refunds", response_model=RefundResponse,
             responses={**CREATE_ERRORS, **NOT_FOUND, **NOT_ALLOWED, **CONFLICT},
             summary="Refund a payment, fully or partly")
async def create_refund(body: RefundBody, session: DbSession, principal: Refunder, runtime: Runtime,
                        lago_id: Annotated[str, Path(description="The payment's lago_id.")]) -> RefundResponse:
    refund, created = await service.request_refund(session, principal.organization_id, parse_uuid(lago_id),
                                                   body.refund, actor=principal.subject)
    if created:
        runtime.wake_charger()
    return RefundResponse(refund=refund)


@router.get("/refunds/{lago_id}", response_model=RefundResponse, responses=READ_ERRORS, summary="Retrieve a refund")
async def get_refund(session: DbSession, principal: Reader,
                     lago_id: Annotated[str, Path(description="The refund's lago_id.")]) -> RefundResponse:
    return RefundResponse(refund=await service.get(session, principal.organization_id, parse_uuid(lago_id)))
