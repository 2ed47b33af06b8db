"""HTTP routes for usage (`/api/v1/customers/{external_id}/current_usage`, Lago's shape)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from invora.auth.deps import ReaderOrTenant
from invora.errors import ValidationFailed
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import READ_ERRORS
from invora.web.inputs import storable_key
from invora.web.pagination import Pagination
from subscriptions.customers.access import accessible_customer
from subscriptions.plans.client import catalog_of
from subscriptions.plans.errors import UNAVAILABLE
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.usage import current, past
from subscriptions.usage.errors import UsageFilterMissing
from subscriptions.usage.schemas import CustomerPastUsageResponse, CustomerUsageResponse
from subscriptions.usage_events.metrics import metric_cache_of

router = APIRouter(prefix="/api/v1/customers", tags=["usage"])


def _group_filter(request: Request) -> tuple[tuple[str, str], ...]:
    """`group[key]=value` (or the deprecated `filter_by_group[key]=value`), Lago's deepObject; Lago's clients
    also send the deprecated one as a JSON object (`filter_by_group={"region": "eu"}`)."""
    pairs: dict[str, str] = {}
    encoded = request.query_params.get("filter_by_group")
    if encoded is not None:
        try:
            decoded = json.loads(encoded)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in decoded.items()):
            raise ValidationFailed(filter_by_group=["value_is_invalid"])
        pairs.update(decoded)
    for name, value in request.query_params.multi_items():
        for prefix in ("group[", "filter_by_group["):
            if name.startswith(prefix) and name.endswith("]"):
                key = name[len(prefix):-1]
                if not key or len(key) > 255 or len(value) > 255:
                    raise ValidationFailed(group=["value_is_invalid"])
                pairs[key] = value
    return tuple(sorted(pairs.items()))


@router.get("/{external_customer_id}/current_usage", response_model=CustomerUsageResponse,
            responses={**READ_ERRORS, **UNAVAILABLE}, summary="Current usage of a subscription",
            description="The open billing period's usage per charge and filter, priced; taxes unless "
                        "`apply_taxes=false`. Read from incremental rollups. Lago's filters: `charge_id` / "
                        "`charge_code` (or the deprecated `filter_by_charge_id` / `filter_by_charge_code`: one "
                        "charge, 404 `charge_not_found` when the plan has none such), `billable_metric_code`, and "
                        "`group[key]=value` (or `filter_by_group[key]=value`: one pricing group; a charge not "
                        "grouped by those keys is left out). The totals are those of what is kept. `full_usage=true` "
                        "(Lago): the usage since the subscription started instead of the open period's "
                        "(`from_datetime` its start), priced once over the whole; it needs a charge or group "
                        "filter (422 `charge_or_group_filter_required`) and, for now, a charge whose metric is "
                        "not recurring and counts, sums, or takes the maximum or latest value (else 422 "
                        "`not_supported_for_aggregation`).")
async def current_usage(
    session: DbSession, principal: ReaderOrTenant, request: Request,
    external_customer_id: Annotated[str, Path()],
    external_subscription_id: Annotated[str, Query(max_length=255)],
    apply_taxes: bool = True,
    charge_id: uuid.UUID | None = None,
    charge_code: Annotated[str | None, Query(max_length=255)] = None,
    billable_metric_code: Annotated[str | None, Query(max_length=255)] = None,
    filter_by_charge_id: Annotated[uuid.UUID | None, Query(deprecated=True)] = None,
    filter_by_charge_code: Annotated[str | None, Query(max_length=255, deprecated=True)] = None,
    full_usage: Annotated[bool, Query(description="Usage since the subscription started (needs a charge or "
                                                  "group filter).")] = False,
) -> Any:
    group = _group_filter(request)
    if full_usage and not (charge_id or charge_code or filter_by_charge_id or filter_by_charge_code or group):
        raise UsageFilterMissing()
    if not storable_key(external_customer_id) or not storable_key(external_subscription_id):
        raise SubscriptionNotFound()
    chosen_id = charge_id or filter_by_charge_id
    only = current.UsageFilter(charge_id=str(chosen_id) if chosen_id else None,
                               charge_code=charge_code or filter_by_charge_code,
                               billable_metric_code=billable_metric_code, group=group)
    customer = await accessible_customer(session, principal, external_customer_id)
    subscription = await current.find_subscription(session, principal.organization_id, customer.id,
                                                   external_subscription_id)
    usage = await current.current_usage(session, catalog_of(request), metric_cache_of(request.app), subscription,
                                        now(request), apply_taxes=apply_taxes, only=only, full_usage=full_usage)
    return {"customer_usage": usage}


@router.get("/{external_customer_id}/past_usage", response_model=CustomerPastUsageResponse,
            responses={**READ_ERRORS, **UNAVAILABLE}, summary="Usage of closed billing periods",
            description="Newest first; `periods_count` limits how many, `billable_metric_code` keeps one metric.")
async def past_usage(
    session: DbSession, principal: ReaderOrTenant, request: Request, page: Pagination,
    external_customer_id: Annotated[str, Path()],
    external_subscription_id: Annotated[str, Query(max_length=255)],
    billable_metric_code: Annotated[str | None, Query(max_length=255)] = None,
    periods_count: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> Any:
    if not storable_key(external_customer_id) or not storable_key(external_subscription_id):
        raise SubscriptionNotFound()
    customer = await accessible_customer(session, principal, external_customer_id)
    periods, meta = await past.past_usage(session, catalog_of(request), metric_cache_of(request.app),
                                          principal.organization_id, customer.id, external_subscription_id,
                                          page, billable_metric_code, periods_count)
    return {"usage_periods": periods, "meta": meta}


@router.get("/{external_customer_id}/projected_usage", responses={**READ_ERRORS, **UNAVAILABLE},
            summary="Projected usage at the end of the open period",
            description="Current usage plus `projected_units` / `projected_amount_cents`, by Lago's rule: "
                        "ratio = days started ÷ days in the period (customer's timezone); projected units = "
                        "units ÷ ratio rounded to 2 decimals, priced again (percentage, graduated percentage and "
                        "dynamic charges: amount ÷ ratio); a recurring metric keeps its current value.")
async def projected_usage(
    session: DbSession, principal: ReaderOrTenant, request: Request,
    external_customer_id: Annotated[str, Path()],
    external_subscription_id: Annotated[str, Query(max_length=255)],
    apply_taxes: bool = True,
) -> Any:
    if not storable_key(external_customer_id) or not storable_key(external_subscription_id):
        raise SubscriptionNotFound()
    customer = await accessible_customer(session, principal, external_customer_id)
    subscription = await current.find_subscription(session, principal.organization_id, customer.id,
                                                   external_subscription_id)
    usage = await current.projected_usage(session, catalog_of(request), metric_cache_of(request.app), subscription,
                                          now(request), apply_taxes=apply_taxes)
    return JSONResponse(jsonable_encoder({"customer_projected_usage": usage}))
