"""HTTP routes for entitlements: Lago's subscription entitlements, customer overrides, grace periods, the check."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from invora.auth.deps import Reader, ReaderOrTenant, Writer, is_staff
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination
from subscriptions.entitlements import service
from subscriptions.entitlements.invalidation import cache_of
from subscriptions.entitlements.schemas import (
    EntitlementCheck,
    EntitlementCheckResponse,
    EntitlementOverridesBody,
    EntitlementOverridesResponse,
    EntitlementsUpdateBody,
    GracePeriodBody,
    GracePeriodResponse,
    GracePeriodsResponse,
    SubscriptionEntitlementResponse,
    SubscriptionEntitlementsResponse,
)
from subscriptions.plans.client import catalog_of
from subscriptions.plans.errors import UNAVAILABLE

subscription_router = APIRouter(prefix="/api/v1/subscriptions/{external_id}/entitlements", tags=["entitlements"])
customer_router = APIRouter(prefix="/api/v1/customers/{external_customer_id}", tags=["entitlements"])
SubscriptionId = Path(description="The subscription's external id.")
CustomerId = Path(description="The customer's external id.")
Status = Literal["active", "pending"]

# the hot path: the shared verifier remembers verified keys briefly (settings.auth_cache_seconds)
CheckPrincipal = ReaderOrTenant


@subscription_router.get("", response_model=SubscriptionEntitlementsResponse, responses=READ_ERRORS,
                         summary="List a subscription's entitlements",
                         description="The plan's entitlements with this subscription's overrides (Lago).")
async def list_subscription_entitlements(session: DbSession, principal: Reader, external_id: str = SubscriptionId,
                                         status: Status | None = None) -> SubscriptionEntitlementsResponse:
    items = await service.list_for_subscription(session, principal.organization_id, external_id, status)
    return SubscriptionEntitlementsResponse(entitlements=items)


@subscription_router.patch("", response_model=SubscriptionEntitlementsResponse,
                           responses={**WRITE_ERRORS, **UNAVAILABLE}, summary="Update a subscription's entitlements",
                           description="Overrides privilege values for this subscription; a feature the plan lacks "
                                       "is added (its definition read from the catalog).")
async def update_subscription_entitlements(body: EntitlementsUpdateBody, session: DbSession, principal: Writer,
                                           request: Request, external_id: str = SubscriptionId,
                                           status: Status | None = None) -> SubscriptionEntitlementsResponse:
    items = await service.update_for_subscription(session, catalog_of(request), principal.organization_id,
                                                  external_id, status, body.entitlements, now(request))
    return SubscriptionEntitlementsResponse(entitlements=items)


@subscription_router.delete("/{feature_code}", response_model=SubscriptionEntitlementResponse,
                            responses=WRITE_ERRORS, summary="Remove an entitlement from a subscription")
async def remove_subscription_entitlement(session: DbSession, principal: Writer, request: Request,
                                          feature_code: str, external_id: str = SubscriptionId,
                                          status: Status | None = None) -> SubscriptionEntitlementResponse:
    item = await service.remove_from_subscription(session, principal.organization_id, external_id, status,
                                                  feature_code, None, now(request))
    return SubscriptionEntitlementResponse(entitlement=item)


@subscription_router.delete("/{feature_code}/privileges/{privilege_code}",
                            response_model=SubscriptionEntitlementResponse, responses=WRITE_ERRORS,
                            summary="Remove a privilege override from a subscription")
async def remove_subscription_privilege(session: DbSession, principal: Writer, request: Request, feature_code: str,
                                        privilege_code: str, external_id: str = SubscriptionId,
                                        status: Status | None = None) -> SubscriptionEntitlementResponse:
    item = await service.remove_from_subscription(session, principal.organization_id, external_id, status,
                                                  feature_code, privilege_code, now(request))
    return SubscriptionEntitlementResponse(entitlement=item)


# -- customer-level --------------------------------------------------------------------------------------

@customer_router.get("/entitlements/{feature_code}", response_model=EntitlementCheckResponse,
                     responses=READ_ERRORS, summary="Check an entitlement (hot path)",
                     description="Whether the customer may use the feature now: its active subscriptions' "
                                 "entitlements, the customer's admin overrides and active grace periods, and its "
                                 "billing state (suspended: never allowed). `privilege` picks the quota (default: "
                                 "the feature's first integer privilege); `used` is the usage to compare it with. "
                                 "Answered from memory, which every change to the customer invalidates at commit.")
async def check_entitlement(
    principal: CheckPrincipal, request: Request, feature_code: str,
    external_customer_id: str = CustomerId,
    privilege: Annotated[str | None, Query(max_length=255)] = None,
    used: Annotated[int | None, Query(ge=0, le=2**53)] = None,
) -> EntitlementCheckResponse:
    result = await service.check(request.app.state.database.engine, cache_of(request), principal.organization_id,
                                 external_customer_id, feature_code, now(request), privilege, used,
                                 limited_to=None if is_staff(principal) else principal.customer_id)
    return EntitlementCheckResponse(entitlement=EntitlementCheck(**result))


@customer_router.get("/entitlement_overrides", response_model=EntitlementOverridesResponse, responses=READ_ERRORS,
                     summary="Retrieve a customer's entitlement overrides")
async def get_entitlement_overrides(session: DbSession, principal: Reader,
                                    external_customer_id: str = CustomerId) -> EntitlementOverridesResponse:
    customer, row = await service.get_overrides(session, principal.organization_id, external_customer_id)
    return EntitlementOverridesResponse(entitlement_overrides=service.render_overrides(customer, row))


@customer_router.put("/entitlement_overrides", response_model=EntitlementOverridesResponse, responses=WRITE_ERRORS,
                     summary="Set a customer's entitlement overrides",
                     description="Replaces the quotas and feature flags that take precedence over the plans' "
                                 "entitlements; they never expire.")
async def set_entitlement_overrides(body: EntitlementOverridesBody, session: DbSession, principal: Writer,
                                    request: Request,
                                    external_customer_id: str = CustomerId) -> EntitlementOverridesResponse:
    customer, row = await service.set_overrides(session, principal, external_customer_id,
                                                body.entitlement_overrides, now(request))
    return EntitlementOverridesResponse(entitlement_overrides=service.render_overrides(customer, row))


@customer_router.delete("/entitlement_overrides", response_model=EntitlementOverridesResponse,
                        responses=WRITE_ERRORS, summary="Remove a customer's entitlement overrides")
async def clear_entitlement_overrides(session: DbSession, principal: Writer,
                                      external_customer_id: str = CustomerId) -> EntitlementOverridesResponse:
    customer = await service.clear_overrides(session, principal.organization_id, external_customer_id)
    return EntitlementOverridesResponse(entitlement_overrides=service.render_overrides(customer, None))


@customer_router.post("/grace_periods", response_model=GracePeriodResponse, responses=WRITE_ERRORS,
                      summary="Grant a grace period",
                      description="Extra allowance on one metric for `duration_hours`; several may run at once.")
async def add_grace_period(body: GracePeriodBody, session: DbSession, principal: Writer, request: Request,
                           external_customer_id: str = CustomerId) -> GracePeriodResponse:
    clock = now(request)
    customer, row = await service.add_grace(session, principal, external_customer_id, body.grace_period, clock)
    return GracePeriodResponse(grace_period=service.render_grace(customer, row, clock))


@customer_router.get("/grace_periods", response_model=GracePeriodsResponse, responses=LIST_ERRORS,
                     summary="List grace periods", description="Active ones unless `include_expired=true`.")
async def list_grace_periods(session: DbSession, principal: Reader, request: Request, page: Pagination,
                             external_customer_id: str = CustomerId,
                             include_expired: bool = False) -> GracePeriodsResponse:
    clock = now(request)
    customer, rows, meta = await service.list_grace(session, principal.organization_id, external_customer_id, clock,
                                                    include_expired, page)
    return GracePeriodsResponse(grace_periods=[service.render_grace(customer, r, clock) for r in rows], meta=meta)


@customer_router.delete("/grace_periods/{grace_period_id}", response_model=GracePeriodResponse,
                        responses=WRITE_ERRORS, summary="Revoke a grace period")
async def revoke_grace_period(grace_period_id: uuid.UUID, session: DbSession, principal: Writer, request: Request,
                              external_customer_id: str = CustomerId) -> GracePeriodResponse:
    clock = now(request)
    customer, row = await service.revoke_grace(session, principal.organization_id, external_customer_id,
                                               grace_period_id, clock)
    return GracePeriodResponse(grace_period=service.render_grace(customer, row, clock))
