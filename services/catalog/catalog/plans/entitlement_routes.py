"""HTTP routes for plan entitlements (`/api/v1/plans/{code}/entitlements`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from catalog.plans import entitlements
from catalog.plans.schemas import EntitlementsBody, PlanEntitlementResponse, PlanEntitlementsResponse
from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import READ_ERRORS, WRITE_ERRORS

router = APIRouter(prefix="/api/v1/plans/{code}/entitlements", tags=["entitlements"])
CodePath = Annotated[str, Path(description="Code of the plan.")]
FeatureCode = Annotated[str, Path(description="Code of the feature.")]

@router.get("", response_model=PlanEntitlementsResponse, responses=READ_ERRORS, summary="List a plan's entitlements")
async def list_entitlements(code: CodePath, session: DbSession, principal: Reader) -> PlanEntitlementsResponse:
    items = await entitlements.list_entitlements(session, principal.organization_id, code)
    return PlanEntitlementsResponse(entitlements=items)


@router.post("", response_model=PlanEntitlementsResponse, responses=WRITE_ERRORS,
             summary="Replace a plan's entitlements")
async def replace_entitlements(code: CodePath, body: EntitlementsBody, session: DbSession,
                               principal: Writer) -> PlanEntitlementsResponse:
    items = await entitlements.replace_entitlements(session, principal.organization_id, code, body.entitlements)
    return PlanEntitlementsResponse(entitlements=items)


@router.patch("", response_model=PlanEntitlementsResponse, responses=WRITE_ERRORS,
              summary="Add or update some of a plan's entitlements")
async def merge_entitlements(code: CodePath, body: EntitlementsBody, session: DbSession,
                             principal: Writer) -> PlanEntitlementsResponse:
    items = await entitlements.merge_entitlements(session, principal.organization_id, code, body.entitlements)
    return PlanEntitlementsResponse(entitlements=items)


@router.get("/{feature_code}", response_model=PlanEntitlementResponse, responses=READ_ERRORS,
            summary="Retrieve an entitlement")
async def get_entitlement(code: CodePath, feature_code: FeatureCode, session: DbSession,
                          principal: Reader) -> PlanEntitlementResponse:
    found = await entitlements.get_entitlement(session, principal.organization_id, code, feature_code)
    return PlanEntitlementResponse(entitlement=found)


@router.delete("/{feature_code}", response_model=PlanEntitlementResponse, responses=WRITE_ERRORS,
               summary="Remove a feature from a plan")
async def delete_entitlement(code: CodePath, feature_code: FeatureCode, session: DbSession,
                             principal: Writer) -> PlanEntitlementResponse:
    removed = await entitlements.delete_entitlement(session, principal.organization_id, code, feature_code)
    return PlanEntitlementResponse(entitlement=removed)


@router.delete("/{feature_code}/privileges/{privilege_code}", response_model=PlanEntitlementResponse,
               responses=WRITE_ERRORS, summary="Remove a privilege value from an entitlement")
async def delete_entitlement_privilege(code: CodePath, feature_code: FeatureCode, privilege_code: str,
                                       session: DbSession, principal: Writer) -> PlanEntitlementResponse:
    updated = await entitlements.delete_entitlement_privilege(session, principal.organization_id, code,
                                                              feature_code, privilege_code)
    return PlanEntitlementResponse(entitlement=updated)
