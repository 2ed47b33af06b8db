"""HTTP routes for a plan's charges, charge filters and fixed charges (each write may create a plan version)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Path

from catalog.plans import charges
from catalog.plans.schemas import (
    ChargeBody,
    ChargeCreateBody,
    ChargeDeleteBody,
    ChargeFilterBody,
    ChargeFilterCreateBody,
    ChargeFilterDeleteBody,
    ChargeFilterResponse,
    ChargeFiltersResponse,
    ChargeResponse,
    ChargesResponse,
    FixedChargeBody,
    FixedChargeCreateBody,
    FixedChargeDeleteBody,
    FixedChargeResponse,
    FixedChargesResponse,
)
from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination, page_of

router = APIRouter(prefix="/api/v1/plans/{code}", tags=["plans"])
CodePath = Annotated[str, Path(description="Code of the plan.")]
ChargeCode = Annotated[str, Path(description="Code of the charge.")]
FixedChargeCode = Annotated[str, Path(description="Code of the fixed charge.")]


@router.get("/charges", response_model=ChargesResponse, responses=READ_ERRORS,
            summary="List the charges of a plan (current version)")
async def list_charges(code: CodePath, session: DbSession, principal: Reader, page: Pagination) -> ChargesResponse:
    items, meta = page_of(await charges.list_charges(session, principal.organization_id, code), page)
    return ChargesResponse(charges=items, meta=meta)


@router.post("/charges", response_model=ChargeResponse, responses=WRITE_ERRORS, summary="Create a charge")
async def create_charge(code: CodePath, body: ChargeCreateBody, session: DbSession,
                        principal: Writer) -> ChargeResponse:
    return ChargeResponse(charge=await charges.create_charge(session, principal.organization_id, code, body.charge))


@router.get("/charges/{charge_code}", response_model=ChargeResponse, responses=READ_ERRORS,
            summary="Retrieve a charge")
async def get_charge(code: CodePath, charge_code: ChargeCode, session: DbSession, principal: Reader) -> ChargeResponse:
    return ChargeResponse(charge=await charges.get_charge(session, principal.organization_id, code, charge_code))


@router.put("/charges/{charge_code}", response_model=ChargeResponse, responses=WRITE_ERRORS,
            summary="Update a charge")
async def update_charge(code: CodePath, charge_code: ChargeCode, body: ChargeBody, session: DbSession,
                        principal: Writer) -> ChargeResponse:
    charge = await charges.update_charge(session, principal.organization_id, code, charge_code, body.charge)
    return ChargeResponse(charge=charge)


@router.delete("/charges/{charge_code}", response_model=ChargeResponse, responses=WRITE_ERRORS,
               summary="Delete a charge")
async def delete_charge(code: CodePath, charge_code: ChargeCode, session: DbSession, principal: Writer,
                        body: Annotated[ChargeDeleteBody | None, Body()] = None) -> ChargeResponse:
    cascade = bool(body and body.charge.cascade_updates)
    return ChargeResponse(charge=await charges.delete_charge(session, principal.organization_id, code, charge_code,
                                                             cascade))


# -- filters ------------------------------------------------------------------------------------------------

@router.get("/charges/{charge_code}/filters", response_model=ChargeFiltersResponse, responses=READ_ERRORS,
            summary="List the filters of a charge")
async def list_filters(code: CodePath, charge_code: ChargeCode, session: DbSession, principal: Reader,
                       page: Pagination) -> ChargeFiltersResponse:
    items, meta = page_of(await charges.list_filters(session, principal.organization_id, code, charge_code), page)
    return ChargeFiltersResponse(filters=items, meta=meta)


@router.post("/charges/{charge_code}/filters", response_model=ChargeFilterResponse, responses=WRITE_ERRORS,
             summary="Create a charge filter")
async def create_filter(code: CodePath, charge_code: ChargeCode, body: ChargeFilterCreateBody, session: DbSession,
                        principal: Writer) -> ChargeFilterResponse:
    created = await charges.create_filter(session, principal.organization_id, code, charge_code, body.filter)
    return ChargeFilterResponse(filter=created)


@router.get("/charges/{charge_code}/filters/{filter_id}", response_model=ChargeFilterResponse,
            responses=READ_ERRORS, summary="Retrieve a charge filter")
async def get_filter(code: CodePath, charge_code: ChargeCode, filter_id: uuid.UUID, session: DbSession,
                     principal: Reader) -> ChargeFilterResponse:
    found = await charges.get_filter(session, principal.organization_id, code, charge_code, filter_id)
    return ChargeFilterResponse(filter=found)


@router.put("/charges/{charge_code}/filters/{filter_id}", response_model=ChargeFilterResponse,
            responses=WRITE_ERRORS, summary="Update a charge filter")
async def update_filter(code: CodePath, charge_code: ChargeCode, filter_id: uuid.UUID, body: ChargeFilterBody,
                        session: DbSession, principal: Writer) -> ChargeFilterResponse:
    updated = await charges.update_filter(session, principal.organization_id, code, charge_code, filter_id,
                                          body.filter)
    return ChargeFilterResponse(filter=updated)


@router.delete("/charges/{charge_code}/filters/{filter_id}", response_model=ChargeFilterResponse,
               responses=WRITE_ERRORS, summary="Delete a charge filter")
async def delete_filter(code: CodePath, charge_code: ChargeCode, filter_id: uuid.UUID, session: DbSession,
                        principal: Writer,
                        body: Annotated[ChargeFilterDeleteBody | None, Body()] = None) -> ChargeFilterResponse:
    cascade = bool(body and body.filter.cascade_updates)
    removed = await charges.delete_filter(session, principal.organization_id, code, charge_code, filter_id, cascade)
    return ChargeFilterResponse(filter=removed)


# -- fixed charges ------------------------------------------------------------------------------------------

@router.get("/fixed_charges", response_model=FixedChargesResponse, responses=READ_ERRORS,
            summary="List the fixed charges of a plan (current version)")
async def list_fixed_charges(code: CodePath, session: DbSession, principal: Reader,
                             page: Pagination) -> FixedChargesResponse:
    items, meta = page_of(await charges.list_fixed_charges(session, principal.organization_id, code), page)
    return FixedChargesResponse(fixed_charges=items, meta=meta)


@router.post("/fixed_charges", response_model=FixedChargeResponse, responses=WRITE_ERRORS,
             summary="Create a fixed charge")
async def create_fixed_charge(code: CodePath, body: FixedChargeCreateBody, session: DbSession,
                              principal: Writer) -> FixedChargeResponse:
    created = await charges.create_fixed_charge(session, principal.organization_id, code, body.fixed_charge)
    return FixedChargeResponse(fixed_charge=created)


@router.get("/fixed_charges/{fixed_charge_code}", response_model=FixedChargeResponse, responses=READ_ERRORS,
            summary="Retrieve a fixed charge")
async def get_fixed_charge(code: CodePath, fixed_charge_code: FixedChargeCode, session: DbSession,
                           principal: Reader) -> FixedChargeResponse:
    found = await charges.get_fixed_charge(session, principal.organization_id, code, fixed_charge_code)
    return FixedChargeResponse(fixed_charge=found)


@router.put("/fixed_charges/{fixed_charge_code}", response_model=FixedChargeResponse, responses=WRITE_ERRORS,
            summary="Update a fixed charge")
async def update_fixed_charge(code: CodePath, fixed_charge_code: FixedChargeCode, body: FixedChargeBody,
                              session: DbSession, principal: Writer) -> FixedChargeResponse:
    updated = await charges.update_fixed_charge(session, principal.organization_id, code, fixed_charge_code,
                                                body.fixed_charge)
    return FixedChargeResponse(fixed_charge=updated)


@router.delete("/fixed_charges/{fixed_charge_code}", response_model=FixedChargeResponse, responses=WRITE_ERRORS,
               summary="Delete a fixed charge")
async def delete_fixed_charge(code: CodePath, fixed_charge_code: FixedChargeCode, session: DbSession,
                              principal: Writer,
                              body: Annotated[FixedChargeDeleteBody | None, Body()] = None) -> FixedChargeResponse:
    cascade = bool(body and body.fixed_charge.cascade_updates)
    removed = await charges.delete_fixed_charge(session, principal.organization_id, code, fixed_charge_code, cascade)
    return FixedChargeResponse(fixed_charge=removed)
