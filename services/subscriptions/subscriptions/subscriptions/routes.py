"""HTTP routes for subscriptions (`/api/v1/subscriptions`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from invora.auth.deps import Reader, ReaderOrTenant, Writer
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.fields import Code
from invora.web.pagination import Pagination
from subscriptions.customers.access import accessible_customer
from subscriptions.plans.client import catalog_of
from subscriptions.plans.errors import UNAVAILABLE
from subscriptions.subscriptions import charge_overrides, create, lifecycle, repository, terminate, update
from subscriptions.subscriptions.errors import StatusFilterInvalid
from subscriptions.subscriptions.schemas import (
    ChargeFilterCreateBody,
    ChargeFilterResponse,
    ChargeFiltersResponse,
    ChargeFilterUpdateBody,
    SubscriptionChargeBody,
    SubscriptionChargeResponse,
    SubscriptionChargesResponse,
    SubscriptionCreateBody,
    SubscriptionFixedChargeBody,
    SubscriptionFixedChargeResponse,
    SubscriptionFixedChargesResponse,
    SubscriptionResponse,
    SubscriptionsResponse,
    SubscriptionUpdateBody,
)

router = APIRouter(prefix="/api/v1/subscriptions", tags=["subscriptions"])
ExternalId = Path(description="The subscription's external id.")
Status = Literal["pending", "active", "terminated", "canceled"]


@router.post("", response_model=SubscriptionResponse, responses={**WRITE_ERRORS, **UNAVAILABLE},
             summary="Create a subscription or change its plan",
             description="Pins the plan's current version (read from the catalog). Posting an existing "
                         "`external_id` with another `plan_code` upgrades at once when the new plan's yearly price "
                         "is at least the current one's, else downgrades at the end of the current period (Lago).")
async def create_subscription(body: SubscriptionCreateBody, session: DbSession, principal: Writer,
                              request: Request) -> SubscriptionResponse:
    subscription = await create.create_or_change(session, catalog_of(request), principal.organization_id,
                                                 body.subscription, now(request))
    return SubscriptionResponse(subscription=lifecycle.render(subscription))


@router.get("", response_model=SubscriptionsResponse, responses=LIST_ERRORS, summary="List subscriptions",
            description="Filters: `external_customer_id`, `plan_code`, `status[]` (default: active and pending).")
async def list_subscriptions(
    session: DbSession, principal: Reader, page: Pagination, request: Request,
    external_customer_id: Annotated[Code | None, Query()] = None,
    plan_code: Annotated[Code | None, Query()] = None,
) -> SubscriptionsResponse:
    statuses = request.query_params.getlist("status[]") + request.query_params.getlist("status")
    if any(s not in ("pending", "active", "terminated", "canceled") for s in statuses) or len(statuses) > 10:
        raise StatusFilterInvalid()
    filters = repository.SubscriptionFilters(external_customer_id=external_customer_id, plan_code=plan_code)
    if statuses:
        filters.statuses = statuses
    rows, meta = await repository.list_subscriptions(session, principal.organization_id, filters, page)
    return SubscriptionsResponse(subscriptions=[lifecycle.render(row) for row in rows], meta=meta)


# Lago's GET /customers/{external_customer_id}/subscriptions: the same list, for one customer that must exist
customer_router = APIRouter(prefix="/api/v1/customers", tags=["subscriptions"])


@customer_router.get("/{external_customer_id}/subscriptions", response_model=SubscriptionsResponse,
                     responses={**LIST_ERRORS, **READ_ERRORS}, summary="List a customer's subscriptions",
                     description="Filters: `plan_code`, `status[]` (default: active and pending). Tenant keys may "
                                 "list their own customer's only.")
async def list_customer_subscriptions(
    session: DbSession, principal: ReaderOrTenant, page: Pagination, request: Request,
    external_customer_id: str = Path(description="The customer's external id."),
    plan_code: Annotated[Code | None, Query()] = None,
) -> SubscriptionsResponse:
    await accessible_customer(session, principal, external_customer_id)  # 403 another's tenant key; 404 none
    return await list_subscriptions(session, principal, page, request, external_customer_id, plan_code)


@router.get("/{external_id}", response_model=SubscriptionResponse, responses=READ_ERRORS,
            summary="Retrieve a subscription",
            description="The active one with this external id, else the pending one, else the latest; `status` "
                        "picks one explicitly.")
async def get_subscription(session: DbSession, principal: Reader, external_id: str = ExternalId,
                           status: Status | None = None) -> SubscriptionResponse:
    subscription = await repository.find_by_external_id(session, principal.organization_id, external_id, status=status)
    return SubscriptionResponse(subscription=lifecycle.render(subscription))


@router.put("/{external_id}", response_model=SubscriptionResponse, responses={**WRITE_ERRORS, **UNAVAILABLE},
            summary="Update a subscription")
async def update_subscription(body: SubscriptionUpdateBody, session: DbSession, principal: Writer,
                              request: Request, external_id: str = ExternalId,
                              status: Literal["active", "pending"] | None = None) -> SubscriptionResponse:
    subscription = await update.update(session, catalog_of(request), principal.organization_id, external_id, status,
                                       body.subscription, now(request))
    return SubscriptionResponse(subscription=lifecycle.render(subscription))


@router.delete("/{external_id}", response_model=SubscriptionResponse, responses=WRITE_ERRORS,
               summary="Terminate a subscription",
               description="Active: terminated now, its last period closes (`subscription.billing_period_ended`). "
                           "Pending (`status=pending`): canceled.")
async def terminate_subscription(
    session: DbSession, principal: Writer, request: Request, external_id: str = ExternalId,
    status: Literal["active", "pending"] = "active",
    on_termination_invoice: Literal["generate", "skip"] | None = None,
    on_termination_credit_note: Literal["credit", "refund", "offset", "skip"] | None = None,
) -> SubscriptionResponse:
    subscription = await terminate.terminate_by_external_id(
        session, principal.organization_id, external_id, status, now(request), on_termination_invoice,
        on_termination_credit_note)
    return SubscriptionResponse(subscription=lifecycle.render(subscription))


# -- one subscription's charges and fixed charges, and their overrides (Lago) ------------------------------
SubscriptionStatus = Annotated[Literal["pending", "active", "terminated", "canceled"] | None, Query(
    description="Look the subscription up with this status (default: active, else pending, else the latest).")]
ChargeCode = Path(description="The charge's code in the plan.")
FixedChargeCode = Path(description="The fixed charge's code in the plan.")


@router.get("/{external_id}/charges", response_model=SubscriptionChargesResponse,
            responses={**LIST_ERRORS, **READ_ERRORS, **UNAVAILABLE}, summary="List a subscription's charges",
            description="The plan version's charges with this subscription's overrides applied.")
async def list_subscription_charges(session: DbSession, principal: Reader, request: Request, page: Pagination,
                                    external_id: str = ExternalId,
                                    subscription_status: SubscriptionStatus = None) -> SubscriptionChargesResponse:
    items = await charge_overrides.list_items(session, catalog_of(request), principal.organization_id, external_id,
                                              subscription_status, "charges")
    shown, meta = charge_overrides.page_of(items, page)
    return SubscriptionChargesResponse.model_validate({"charges": shown, "meta": meta})


@router.get("/{external_id}/charges/{charge_code}", response_model=SubscriptionChargeResponse,
            responses={**READ_ERRORS, **UNAVAILABLE}, summary="Retrieve a subscription's charge")
async def get_subscription_charge(session: DbSession, principal: Reader, request: Request,
                                  external_id: str = ExternalId, charge_code: str = ChargeCode,
                                  subscription_status: SubscriptionStatus = None) -> SubscriptionChargeResponse:
    item = await charge_overrides.read_item(session, catalog_of(request), principal.organization_id, external_id,
                                            subscription_status, "charges", charge_code)
    return SubscriptionChargeResponse.model_validate({"charge": item})


@router.put("/{external_id}/charges/{charge_code}", response_model=SubscriptionChargeResponse,
            responses={**WRITE_ERRORS, **UNAVAILABLE}, summary="Override a charge for this subscription",
            description="Merged into the subscription's override of the charge; no new plan version.")
async def override_subscription_charge(body: SubscriptionChargeBody, session: DbSession, principal: Writer,
                                       request: Request, external_id: str = ExternalId,
                                       charge_code: str = ChargeCode,
                                       subscription_status: SubscriptionStatus = None) -> SubscriptionChargeResponse:
    given = body.charge.model_dump(mode="json", include=body.charge.model_fields_set)
    item = await charge_overrides.override_item(session, catalog_of(request), principal.organization_id,
                                                external_id, subscription_status, "charges", charge_code, given,
                                                now(request))
    return SubscriptionChargeResponse.model_validate({"charge": item})


@router.get("/{external_id}/fixed_charges", response_model=SubscriptionFixedChargesResponse,
            responses={**LIST_ERRORS, **READ_ERRORS, **UNAVAILABLE}, summary="List a subscription's fixed charges")
async def list_subscription_fixed_charges(
    session: DbSession, principal: Reader, request: Request, page: Pagination, external_id: str = ExternalId,
    subscription_status: SubscriptionStatus = None,
) -> SubscriptionFixedChargesResponse:
    items = await charge_overrides.list_items(session, catalog_of(request), principal.organization_id, external_id,
                                              subscription_status, "fixed_charges")
    shown, meta = charge_overrides.page_of(items, page)
    return SubscriptionFixedChargesResponse.model_validate({"fixed_charges": shown, "meta": meta})


@router.get("/{external_id}/fixed_charges/{fixed_charge_code}", response_model=SubscriptionFixedChargeResponse,
            responses={**READ_ERRORS, **UNAVAILABLE}, summary="Retrieve a subscription's fixed charge")
async def get_subscription_fixed_charge(
    session: DbSession, principal: Reader, request: Request, external_id: str = ExternalId,
    fixed_charge_code: str = FixedChargeCode, subscription_status: SubscriptionStatus = None,
) -> SubscriptionFixedChargeResponse:
    item = await charge_overrides.read_item(session, catalog_of(request), principal.organization_id, external_id,
                                            subscription_status, "fixed_charges", fixed_charge_code)
    return SubscriptionFixedChargeResponse.model_validate({"fixed_charge": item})


@router.put("/{external_id}/fixed_charges/{fixed_charge_code}", response_model=SubscriptionFixedChargeResponse,
            responses={**WRITE_ERRORS, **UNAVAILABLE}, summary="Override a fixed charge for this subscription")
async def override_subscription_fixed_charge(
    body: SubscriptionFixedChargeBody, session: DbSession, principal: Writer, request: Request,
    external_id: str = ExternalId, fixed_charge_code: str = FixedChargeCode,
    subscription_status: SubscriptionStatus = None,
) -> SubscriptionFixedChargeResponse:
    given = body.fixed_charge.model_dump(mode="json", include=body.fixed_charge.model_fields_set)
    item = await charge_overrides.override_item(session, catalog_of(request), principal.organization_id,
                                                external_id, subscription_status, "fixed_charges",
                                                fixed_charge_code, given, now(request))
    return SubscriptionFixedChargeResponse.model_validate({"fixed_charge": item})


FilterId = Path(description="The filter's `lago_id`.")


@router.get("/{external_id}/charges/{charge_code}/filters", response_model=ChargeFiltersResponse,
            responses={**LIST_ERRORS, **READ_ERRORS, **UNAVAILABLE}, summary="List a subscription charge's filters")
async def list_subscription_charge_filters(
    session: DbSession, principal: Reader, request: Request, page: Pagination, external_id: str = ExternalId,
    charge_code: str = ChargeCode, subscription_status: SubscriptionStatus = None,
) -> ChargeFiltersResponse:
    items = await charge_overrides.read_filters(session, catalog_of(request), principal.organization_id,
                                                external_id, subscription_status, charge_code)
    shown, meta = charge_overrides.page_of(items, page)
    return ChargeFiltersResponse.model_validate({"filters": shown, "meta": meta})


@router.post("/{external_id}/charges/{charge_code}/filters", response_model=ChargeFilterResponse,
             responses={**WRITE_ERRORS, **UNAVAILABLE}, summary="Add a filter to a subscription's charge")
async def create_subscription_charge_filter(
    body: ChargeFilterCreateBody, session: DbSession, principal: Writer, request: Request,
    external_id: str = ExternalId, charge_code: str = ChargeCode, subscription_status: SubscriptionStatus = None,
) -> ChargeFilterResponse:
    given = body.filter.model_dump(mode="json", include=body.filter.model_fields_set - {"cascade_updates"})
    item = await charge_overrides.edit_filter(session, catalog_of(request), principal.organization_id, external_id,
                                              subscription_status, charge_code, None, given, now(request))
    return ChargeFilterResponse.model_validate({"filter": item})


@router.get("/{external_id}/charges/{charge_code}/filters/{filter_id}", response_model=ChargeFilterResponse,
            responses={**READ_ERRORS, **UNAVAILABLE}, summary="Retrieve a filter of a subscription's charge")
async def get_subscription_charge_filter(
    session: DbSession, principal: Reader, request: Request, external_id: str = ExternalId,
    charge_code: str = ChargeCode, filter_id: uuid.UUID = FilterId, subscription_status: SubscriptionStatus = None,
) -> ChargeFilterResponse:
    item = await charge_overrides.read_filter(session, catalog_of(request), principal.organization_id, external_id,
                                              subscription_status, charge_code, filter_id)
    return ChargeFilterResponse.model_validate({"filter": item})


@router.put("/{external_id}/charges/{charge_code}/filters/{filter_id}", response_model=ChargeFilterResponse,
            responses={**WRITE_ERRORS, **UNAVAILABLE}, summary="Change a filter of a subscription's charge")
async def update_subscription_charge_filter(
    body: ChargeFilterUpdateBody, session: DbSession, principal: Writer, request: Request,
    external_id: str = ExternalId, charge_code: str = ChargeCode, filter_id: uuid.UUID = FilterId,
    subscription_status: SubscriptionStatus = None,
) -> ChargeFilterResponse:
    given = body.filter.model_dump(mode="json", include=body.filter.model_fields_set - {"cascade_updates"})
    item = await charge_overrides.edit_filter(session, catalog_of(request), principal.organization_id, external_id,
                                              subscription_status, charge_code, filter_id, given, now(request))
    return ChargeFilterResponse.model_validate({"filter": item})


@router.delete("/{external_id}/charges/{charge_code}/filters/{filter_id}", response_model=ChargeFilterResponse,
               responses={**WRITE_ERRORS, **UNAVAILABLE}, summary="Remove a filter from a subscription's charge")
async def delete_subscription_charge_filter(
    session: DbSession, principal: Writer, request: Request, external_id: str = ExternalId,
    charge_code: str = ChargeCode, filter_id: uuid.UUID = FilterId, subscription_status: SubscriptionStatus = None,
) -> ChargeFilterResponse:
    item = await charge_overrides.edit_filter(session, catalog_of(request), principal.organization_id, external_id,
                                              subscription_status, charge_code, filter_id, None, now(request))
    return ChargeFilterResponse.model_validate({"filter": item})
