"""HTTP routes for coupons (`/api/v1/coupons`)."""

from __future__ import annotations

from fastapi import APIRouter, Path

from catalog.coupons import service
from catalog.coupons.schemas import CouponCreateBody, CouponResponse, CouponsResponse, CouponUpdateBody
from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_ALLOWED, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination

router = APIRouter(prefix="/api/v1/coupons", tags=["coupons"])
CodePath = Path(description="Code of the coupon.")


@router.post("", response_model=CouponResponse, responses={**CREATE_ERRORS, **NOT_ALLOWED}, summary="Create a coupon")
async def create_coupon(body: CouponCreateBody, session: DbSession, principal: Writer) -> CouponResponse:
    return CouponResponse(coupon=await service.create(session, principal.organization_id, body.coupon))


@router.get("", response_model=CouponsResponse, responses=LIST_ERRORS, summary="List all coupons")
async def list_coupons(session: DbSession, principal: Reader, page: Pagination) -> CouponsResponse:
    coupons, meta = await service.list_coupons(session, principal.organization_id, page)
    return CouponsResponse(coupons=coupons, meta=meta)


@router.get("/{code}", response_model=CouponResponse, responses=READ_ERRORS, summary="Retrieve a coupon")
async def get_coupon(session: DbSession, principal: Reader, code: str = CodePath) -> CouponResponse:
    return CouponResponse(coupon=await service.read(session, principal.organization_id, code))


@router.put("/{code}", response_model=CouponResponse, responses=WRITE_ERRORS, summary="Update a coupon")
async def update_coupon(body: CouponUpdateBody, session: DbSession, principal: Writer,
                        code: str = CodePath) -> CouponResponse:
    return CouponResponse(coupon=await service.update(session, principal.organization_id, code, body.coupon))


@router.delete("/{code}", response_model=CouponResponse, responses=WRITE_ERRORS,
               summary="Delete (terminate) a coupon")
async def delete_coupon(session: DbSession, principal: Writer, code: str = CodePath) -> CouponResponse:
    return CouponResponse(coupon=await service.delete(session, principal.organization_id, code))
