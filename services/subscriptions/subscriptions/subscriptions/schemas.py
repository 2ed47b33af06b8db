"""Subscriptions in Lago's shapes: `SubscriptionCreateInput` / `SubscriptionUpdateInput` in, `SubscriptionObject`
out."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StringConstraints

from invora.events.contracts import catalog as contracts
from invora.events.contracts.subscriptions import Subscription as SubscriptionObject
from invora.web.fields import MAX_ITEMS, Code, Currency, Description, Name, Timestamp
from invora.web.inputs import InputModel, JsonObject, StrictInt
from invora.web.pagination import PaginationMeta

MAX_CENTS = 10**15
DecimalString = Annotated[str, StringConstraints(max_length=40, pattern=r"^[0-9]{1,13}(\.[0-9]{1,12})?$")]
AmountCents = Annotated[StrictInt, Field(ge=0, le=MAX_CENTS)]
TrialDays = Annotated[StrictFloat, Field(ge=0, le=36_500, allow_inf_nan=False)]


class ChargeOverride(InputModel):
    id: uuid.UUID | None = Field(None, description="The charge's `lago_id` in the plan version.")
    code: Code | None = None
    billable_metric_id: uuid.UUID | None = None
    invoice_display_name: Name | None = None
    min_amount_cents: AmountCents | None = None
    properties: JsonObject | None = None
    filters: Annotated[list[JsonObject], Field(max_length=MAX_ITEMS)] | None = None
    tax_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None


class FixedChargeOverride(InputModel):
    id: uuid.UUID | None = None
    code: Code | None = None
    invoice_display_name: Name | None = None
    units: Annotated[StrictFloat, Field(ge=0, le=10**12, allow_inf_nan=False)] | DecimalString | None = None
    properties: JsonObject | None = None
    tax_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None


class MinimumCommitmentOverride(InputModel):
    amount_cents: AmountCents
    invoice_display_name: Name | None = None
    tax_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None


class UsageThresholdOverride(InputModel):
    amount_cents: AmountCents
    threshold_display_name: Name | None = None
    recurring: StrictBool = False


class PlanOverrides(InputModel):
    # absent: the plan's amount; null is refused (422), not taken for "no amount"
    amount_cents: AmountCents = None  # type: ignore[assignment]
    amount_currency: Currency | None = None
    name: Name | None = None
    invoice_display_name: Name | None = None
    description: Description | None = None
    trial_period: TrialDays | None = None
    tax_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None
    charges: Annotated[list[ChargeOverride], Field(max_length=MAX_ITEMS)] | None = None
    fixed_charges: Annotated[list[FixedChargeOverride], Field(max_length=MAX_ITEMS)] | None = None
    minimum_commitment: MinimumCommitmentOverride | None = None
    usage_thresholds: Annotated[list[UsageThresholdOverride], Field(max_length=MAX_ITEMS)] | None = None


class SubscriptionInput(InputModel):
    external_customer_id: Code
    plan_code: Code
    external_id: Code
    name: Name | None = None
    billing_time: Literal["calendar", "anniversary"] | None = None
    subscription_at: Timestamp | None = None
    ending_at: Timestamp | None = None
    plan_overrides: PlanOverrides | None = None
    purchase_order_number: Name | None = None
    consolidate_invoice: StrictBool | None = None


class SubscriptionCreateBody(BaseModel):
    subscription: SubscriptionInput


class SubscriptionUpdateInput(InputModel):
    name: Name | None = None
    ending_at: Timestamp | None = None
    subscription_at: Timestamp | None = Field(None, description="Only while the subscription is pending.")
    plan_overrides: PlanOverrides | None = None
    purchase_order_number: Name | None = None


class SubscriptionUpdateBody(BaseModel):
    subscription: SubscriptionUpdateInput


class SubscriptionResponse(BaseModel):
    subscription: SubscriptionObject


class SubscriptionsResponse(BaseModel):
    subscriptions: list[SubscriptionObject]
    meta: PaginationMeta


def overrides_dict(overrides: PlanOverrides | None) -> dict[str, Any]:
    """What the client sent, JSON-ready (unset fields left out, so "not overridden" stays distinct from null)."""
    return overrides.model_dump(mode="json", exclude_unset=True) if overrides is not None else {}


# -- one charge's override: /subscriptions/{external_id}/charges/{code}, .../fixed_charges/{code} (Lago) ------

class SubscriptionChargeInput(InputModel):
    invoice_display_name: Name | None = None
    min_amount_cents: AmountCents | None = None
    properties: JsonObject | None = None
    filters: Annotated[list[JsonObject], Field(max_length=MAX_ITEMS)] | None = None
    tax_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None


class SubscriptionChargeBody(BaseModel):
    charge: SubscriptionChargeInput


class SubscriptionFixedChargeInput(InputModel):
    invoice_display_name: Name | None = None
    units: Annotated[StrictFloat, Field(ge=0, le=10**12, allow_inf_nan=False)] | DecimalString | None = None
    properties: JsonObject | None = None
    tax_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None


class SubscriptionFixedChargeBody(BaseModel):
    fixed_charge: SubscriptionFixedChargeInput


class SubscriptionChargeFilter(contracts.ChargeFilter):
    lago_id: uuid.UUID | None = None  # a filter the override added has none


class SubscriptionCharge(contracts.Charge):
    filters: list[SubscriptionChargeFilter] = Field(default_factory=list)
    tax_codes: list[str] | None = Field(None, description="The override's tax codes, when it sets some.")


class SubscriptionFixedCharge(contracts.FixedCharge):
    tax_codes: list[str] | None = Field(None, description="The override's tax codes, when it sets some.")


class SubscriptionChargeResponse(BaseModel):
    charge: SubscriptionCharge


class SubscriptionChargesResponse(BaseModel):
    charges: list[SubscriptionCharge]
    meta: PaginationMeta


class SubscriptionFixedChargeResponse(BaseModel):
    fixed_charge: SubscriptionFixedCharge


class SubscriptionFixedChargesResponse(BaseModel):
    fixed_charges: list[SubscriptionFixedCharge]
    meta: PaginationMeta


# -- one filter of a subscription's charge: /subscriptions/{external_id}/charges/{code}/filters[/{id}] -------
FilterValues = Annotated[dict[Code, Annotated[list[Code], Field(min_length=1, max_length=1000)]],
                         Field(min_length=1, max_length=MAX_ITEMS)]


class ChargeFilterCreateInput(InputModel):
    invoice_display_name: Name | None = None
    properties: JsonObject
    values: FilterValues
    cascade_updates: StrictBool | None = Field(None, description="Accepted and ignored: no plan changes here.")


class ChargeFilterUpdateInput(InputModel):
    invoice_display_name: Name | None = None
    properties: JsonObject | None = None
    values: FilterValues | None = None
    cascade_updates: StrictBool | None = Field(None, description="Accepted and ignored: no plan changes here.")


class ChargeFilterCreateBody(BaseModel):
    filter: ChargeFilterCreateInput


class ChargeFilterUpdateBody(BaseModel):
    filter: ChargeFilterUpdateInput


class ChargeFilterResponse(BaseModel):
    filter: SubscriptionChargeFilter


class ChargeFiltersResponse(BaseModel):
    filters: list[SubscriptionChargeFilter]
    meta: PaginationMeta
