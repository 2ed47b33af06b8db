"""HTTP routes for features (`/api/v1/features`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from catalog.features import service
from catalog.features.schemas import FeatureCreateBody, FeatureResponse, FeaturesResponse, FeatureUpdateBody
from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination

router = APIRouter(prefix="/api/v1/features", tags=["features"])
CodePath = Path(description="Code of the feature.")


@router.post("", response_model=FeatureResponse, responses=CREATE_ERRORS, summary="Create a feature")
async def create_feature(body: FeatureCreateBody, session: DbSession, principal: Writer) -> FeatureResponse:
    return FeatureResponse(feature=await service.create(session, principal.organization_id, body.feature))


@router.get("", response_model=FeaturesResponse, responses=LIST_ERRORS, summary="List all features")
async def list_features(
    session: DbSession, principal: Reader, page: Pagination,
    search_term: Annotated[str | None, Query(max_length=255, description="Search in name, code and description.")]
    = None,
) -> FeaturesResponse:
    features, meta = await service.list_features(session, principal.organization_id, page, search_term)
    return FeaturesResponse(features=features, meta=meta)


@router.get("/{code}", response_model=FeatureResponse, responses=READ_ERRORS, summary="Retrieve a feature")
async def get_feature(session: DbSession, principal: Reader, code: str = CodePath) -> FeatureResponse:
    return FeatureResponse(feature=await service.read(session, principal.organization_id, code))


@router.put("/{code}", response_model=FeatureResponse, responses=WRITE_ERRORS, summary="Update a feature")
async def update_feature(body: FeatureUpdateBody, session: DbSession, principal: Writer,
                         code: str = CodePath) -> FeatureResponse:
    return FeatureResponse(feature=await service.update(session, principal.organization_id, code, body.feature))


@router.delete("/{code}", response_model=FeatureResponse, responses=WRITE_ERRORS, summary="Delete a feature")
async def delete_feature(session: DbSession, principal: Writer, code: str = CodePath) -> FeatureResponse:
    return FeatureResponse(feature=await service.delete(session, principal.organization_id, code))


@router.delete("/{code}/privileges/{privilege_code}", response_model=FeatureResponse, responses=WRITE_ERRORS,
               summary="Delete a privilege")
async def delete_privilege(privilege_code: str, session: DbSession, principal: Writer,
                           code: str = CodePath) -> FeatureResponse:
    feature = await service.delete_privilege(session, principal.organization_id, code, privilege_code)
    return FeatureResponse(feature=feature)
