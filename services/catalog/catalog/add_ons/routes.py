"""HTTP routes for add-ons (`/api/v1/add_ons`)."""

from __future__ import annotations

from fastapi import APIRouter, Path

from catalog.add_ons import service
from catalog.add_ons.schemas import AddOnCreateBody, AddOnResponse, AddOnsResponse, AddOnUpdateBody
from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination

router = APIRouter(prefix="/api/v1/add_ons", tags=["add_ons"])
CodePath = Path(description="Code of the add-on.")


@router.post("", response_model=AddOnResponse, responses=CREATE_ERRORS, summary="Create an add-on")
async def create_add_on(body: AddOnCreateBody, session: DbSession, principal: Writer) -> AddOnResponse:
    return AddOnResponse(add_on=await service.create(session, principal.organization_id, body.add_on))


@router.get("", response_model=AddOnsResponse, responses=LIST_ERRORS, summary="List all add-ons")
async def list_add_ons(session: DbSession, principal: Reader, page: Pagination) -> AddOnsResponse:
    add_ons, meta = await service.list_add_ons(session, principal.organization_id, page)
    return AddOnsResponse(add_ons=add_ons, meta=meta)


@router.get("/{code}", response_model=AddOnResponse, responses=READ_ERRORS, summary="Retrieve an add-on")
async def get_add_on(session: DbSession, principal: Reader, code: str = CodePath) -> AddOnResponse:
    return AddOnResponse(add_on=await service.read(session, principal.organization_id, code))


@router.put("/{code}", response_model=AddOnResponse, responses=WRITE_ERRORS, summary="Update an add-on")
async def update_add_on(body: AddOnUpdateBody, session: DbSession, principal: Writer,
                        code: str = CodePath) -> AddOnResponse:
    return AddOnResponse(add_on=await service.update(session, principal.organization_id, code, body.add_on))


@router.delete("/{code}", response_model=AddOnResponse, responses=WRITE_ERRORS, summary="Delete an add-on")
async def delete_add_on(session: DbSession, principal: Writer, code: str = CodePath) -> AddOnResponse:
    return AddOnResponse(add_on=await service.delete(session, principal.organization_id, code))
