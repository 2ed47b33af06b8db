"""HTTP routes for taxes (`/api/v1/taxes`)."""

from __future__ import annotations

from fastapi import APIRouter, Path

from catalog.taxes import service
from catalog.taxes.schemas import TaxCreateBody, TaxesResponse, TaxResponse, TaxUpdateBody
from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination

router = APIRouter(prefix="/api/v1/taxes", tags=["taxes"])
CodePath = Path(description="Unique code of the tax.")


@router.post("", response_model=TaxResponse, responses=CREATE_ERRORS, summary="Create a tax")
async def create_tax(body: TaxCreateBody, session: DbSession, principal: Writer) -> TaxResponse:
    return TaxResponse(tax=await service.create(session, principal.organization_id, body.tax))


@router.get("", response_model=TaxesResponse, responses=LIST_ERRORS, summary="List all taxes")
async def list_taxes(session: DbSession, principal: Reader, page: Pagination) -> TaxesResponse:
    taxes, meta = await service.list_taxes(session, principal.organization_id, page)
    return TaxesResponse(taxes=taxes, meta=meta)


@router.get("/{code}", response_model=TaxResponse, responses=READ_ERRORS, summary="Retrieve a tax")
async def get_tax(session: DbSession, principal: Reader, code: str = CodePath) -> TaxResponse:
    return TaxResponse(tax=await service.read(session, principal.organization_id, code))


@router.put("/{code}", response_model=TaxResponse, responses=WRITE_ERRORS, summary="Update a tax")
async def update_tax(body: TaxUpdateBody, session: DbSession, principal: Writer, code: str = CodePath) -> TaxResponse:
    return TaxResponse(tax=await service.update(session, principal.organization_id, code, body.tax))


@router.delete("/{code}", response_model=TaxResponse, responses=WRITE_ERRORS, summary="Delete a tax")
async def delete_tax(session: DbSession, principal: Writer, code: str = CodePath) -> TaxResponse:
    return TaxResponse(tax=await service.delete(session, principal.organization_id, code))
