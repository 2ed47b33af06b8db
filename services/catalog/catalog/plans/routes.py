"""HTTP routes for plans (`/api/v1/plans`), their versions and metadata."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Path

from catalog.plans import create, service, update
from catalog.plans.schemas import (
    PlanCreateBody,
    PlanMetadataBody,
    PlanMetadataResponse,
    PlanResponse,
    PlansResponse,
    PlanUpdateBody,
    PlanVersionResponse,
    PlanVersionsResponse,
)
from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])
versions_router = APIRouter(prefix="/api/v1/plan_versions", tags=["plan_versions"])
CodePath = Path(description="Code of the plan.")


@router.post("", response_model=PlanResponse, responses=CREATE_ERRORS, summary="Create a plan",
             description="Creates the plan and version 1 of its prices.")
async def create_plan(body: PlanCreateBody, session: DbSession, principal: Writer) -> PlanResponse:
    return PlanResponse(plan=await create.create_plan(session, principal.organization_id, body.plan))


@router.get("", response_model=PlansResponse, responses=LIST_ERRORS, summary="List all plans",
            description="Live plans (archived ones excluded), each with the prices of its current version.")
async def list_plans(session: DbSession, principal: Reader, page: Pagination) -> PlansResponse:
    plans, meta = await service.list_plans(session, principal.organization_id, page)
    return PlansResponse(plans=plans, meta=meta)


@router.get("/{code}", response_model=PlanResponse, responses=READ_ERRORS, summary="Retrieve a plan")
async def get_plan(session: DbSession, principal: Reader, code: str = CodePath) -> PlanResponse:
    return PlanResponse(plan=await service.plan_object(session, principal.organization_id, code))


@router.put("/{code}", response_model=PlanResponse, responses=WRITE_ERRORS, summary="Update a plan",
            description="Partial update. A change to any price writes a new immutable plan version; "
                        "`cascade_updates: true` publishes `plan.cascade_requested` so that subscriptions on the "
                        "previous version's untouched prices move to the new one.")
async def update_plan(body: PlanUpdateBody, session: DbSession, principal: Writer,
                      code: str = CodePath) -> PlanResponse:
    return PlanResponse(plan=await update.update_plan(session, principal.organization_id, code, body.plan))


@router.delete("/{code}", response_model=PlanResponse, responses=WRITE_ERRORS, summary="Delete (archive) a plan",
               description="Archives the plan: existing subscriptions keep their version, new ones are refused. "
                           "Its versions stay readable at `/api/v1/plan_versions/{id}`.")
async def delete_plan(session: DbSession, principal: Writer, code: str = CodePath) -> PlanResponse:
    return PlanResponse(plan=await service.archive(session, principal.organization_id, code))


@router.get("/{code}/versions", response_model=PlanVersionsResponse, responses=READ_ERRORS,
            summary="List the versions of a plan", description="Newest first; `is_current` marks the one sold now.")
async def list_plan_versions(session: DbSession, principal: Reader, page: Pagination,
                             code: str = CodePath) -> PlanVersionsResponse:
    versions, meta = await service.list_versions(session, principal.organization_id, code, page)
    return PlanVersionsResponse(plan_versions=versions, meta=meta)


@versions_router.get("/{version_id}", response_model=PlanVersionResponse, responses=READ_ERRORS,
                     summary="Retrieve a plan version",
                     description="Exactly the prices sold under this version, whatever changed since (archived "
                                 "plans included).")
async def get_plan_version(version_id: uuid.UUID, session: DbSession, principal: Reader) -> PlanVersionResponse:
    return PlanVersionResponse(plan_version=await service.get_version(session, principal.organization_id, version_id))


# -- metadata ---------------------------------------------------------------------------------------------

@router.post("/{code}/metadata", response_model=PlanMetadataResponse, responses=WRITE_ERRORS,
             summary="Replace plan metadata")
async def replace_metadata(body: PlanMetadataBody, session: DbSession, principal: Writer,
                           code: str = CodePath) -> PlanMetadataResponse:
    metadata = await service.change_metadata(session, principal.organization_id, code, replace=body.metadata)
    return PlanMetadataResponse(metadata=metadata)


@router.patch("/{code}/metadata", response_model=PlanMetadataResponse, responses=WRITE_ERRORS,
              summary="Merge plan metadata")
async def merge_metadata(body: PlanMetadataBody, session: DbSession, principal: Writer,
                         code: str = CodePath) -> PlanMetadataResponse:
    metadata = await service.change_metadata(session, principal.organization_id, code, merge=body.metadata)
    return PlanMetadataResponse(metadata=metadata)


@router.delete("/{code}/metadata", response_model=PlanMetadataResponse, responses=WRITE_ERRORS,
               summary="Delete all plan metadata")
async def clear_metadata(session: DbSession, principal: Writer, code: str = CodePath) -> PlanMetadataResponse:
    metadata = await service.change_metadata(session, principal.organization_id, code, clear=True)
    return PlanMetadataResponse(metadata=metadata)


@router.delete("/{code}/metadata/{key}", response_model=PlanMetadataResponse, responses=WRITE_ERRORS,
               summary="Delete a metadata key")
async def delete_metadata_key(key: str, session: DbSession, principal: Writer,
                              code: str = CodePath) -> PlanMetadataResponse:
    metadata = await service.change_metadata(session, principal.organization_id, code, remove_key=key)
    return PlanMetadataResponse(metadata=metadata)
