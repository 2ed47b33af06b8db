"""HTTP routes of applied coupons (`/api/v1/applied_coupons`, Lago's)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from invoicing.applied_coupons import repository, service
from invoicing.applied_coupons.schemas import AppliedCouponBody, AppliedCouponResponse, AppliedCouponsResponse
from invoicing.runtime import get_runtime
from invora.auth.deps import ReaderOrTenant, Writer, is_staff
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_FOUND, WRITE_ERRORS
from invora.web.pagination import Pagination

router = APIRouter(prefix="/api/v1", tags=["applied_coupons"])


@router.post("/applied_coupons", response_model=AppliedCouponResponse, responses={**CREATE_ERRORS, **NOT_FOUND},
             summary="Apply a coupon to a customer",
             description="Lago's rules: the coupon is active; a non-reusable coupon once per customer; overrides of "
                         "amount, currency, rate, frequency and duration. Consumed by invoices oldest first.")
async def apply_coupon(body: AppliedCouponBody, session: DbSession, principal: Writer,
                       request: Request) -> AppliedCouponResponse:
    row = await service.apply(session, get_runtime(request), principal.organization_id, body.applied_coupon,
                              now(request))
    return AppliedCouponResponse(applied_coupon=service.render(row))


@router.get("/applied_coupons", response_model=AppliedCouponsResponse, responses=LIST_ERRORS,
            summary="List applied coupons",
            description="Newest first; filters `external_customer_id`, `status`, `coupon_code[]`.")
async def list_applied_coupons(request: Request, session: DbSession, principal: ReaderOrTenant,
                               pagination: Pagination,
                               external_customer_id: Annotated[str | None, Query(max_length=255)] = None,
                               status: Literal["active", "terminated"] | None = None) -> AppliedCouponsResponse:
    # a tenant key: its own customer's, by internal id
    customer_id = None if is_staff(principal) else principal.customer_id
    codes = request.query_params.getlist("coupon_code[]")[:100]
    rows, total = await repository.page(session, principal.organization_id, external_customer_id=external_customer_id,
                                        customer_id=customer_id, status=status, coupon_codes=codes,
                                        limit=pagination.per_page, offset=pagination.offset)
    return AppliedCouponsResponse(applied_coupons=[service.render(r) for r in rows], meta=pagination.meta(total))


@router.get("/customers/{external_customer_id}/applied_coupons", response_model=AppliedCouponsResponse,
            responses={**LIST_ERRORS, **NOT_FOUND}, summary="List a customer's applied coupons",
            description="Newest first; filters `status`, `coupon_code[]`. 404 for a customer unknown to the "
                        "organization.")
async def list_customer_applied_coupons(request: Request, session: DbSession, principal: ReaderOrTenant,
                                        pagination: Pagination,
                                        external_customer_id: Annotated[str, Path(max_length=255)],
                                        status: Literal["active", "terminated"] | None = None
                                        ) -> AppliedCouponsResponse:
    codes = request.query_params.getlist("coupon_code[]")[:100]
    rows, total = await service.customer_page(session, get_runtime(request).subscriptions, principal,
                                              external_customer_id, status=status,
                                              coupon_codes=codes, limit=pagination.per_page,
                                              offset=pagination.offset)
    return AppliedCouponsResponse(applied_coupons=[service.render(r) for r in rows], meta=pagination.meta(total))


@router.delete("/customers/{external_customer_id}/applied_coupons/{applied_coupon_id}",
               response_model=AppliedCouponResponse, responses=WRITE_ERRORS, summary="Terminate an applied coupon")
async def terminate_applied_coupon(external_customer_id: Annotated[str, Path(max_length=255)],
                                   applied_coupon_id: Annotated[uuid.UUID, Path()], session: DbSession,
                                   principal: Writer, request: Request) -> AppliedCouponResponse:
    row = await service.terminate(session, principal, external_customer_id, applied_coupon_id, now(request))
    return AppliedCouponResponse(applied_coupon=service.render(row))
