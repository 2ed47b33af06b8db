"""Plans, charges, fixed charges and filters in Lago's shapes.

Inputs follow Lago's `PlanCreateInput` / `PlanUpdateInput` / `ChargeCreateInput` …; outputs are
the contract objects of `invora.events.contracts.catalog` wrapped in their root key. A charge
names its metric by `billable_metric_id` (Lago) or `billable_metric_code`; a fixed charge its
add-on by `add_on_id` or `add_on_code`.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictInt

from catalog.common.inputs import (
    MAX_ITEMS,
    AmountCents,
    Code,
    Currency,
    DecimalNumber,
    Description,
    InputModel,
    JsonObject,
    Name,
    OptionalName,
    TaxCodes,
    check_json,
    check_text,
)
from invora.events.contracts.catalog import (
    Charge,
    ChargeFilter,
    ChargeModel,
    FixedCharge,
    FixedChargeModel,
    Plan,
    PlanEntitlement,
    PlanInterval,
    PlanVersion,
)
from invora.web.pagination import PaginationMeta

MAX_TRIAL_DAYS = Decimal(36_500)
MAX_UNITS = Decimal(10**12)
MAX_METADATA_KEYS = 50


def _trial_period(value: Decimal) -> Decimal:
    if value > MAX_TRIAL_DAYS:
        raise ValueError("value_is_out_of_range")
    return value


def _units(value: Decimal) -> Decimal:
    if value > MAX_UNITS or value.as_tuple().exponent < -10:  # type: ignore[operator]
        raise ValueError("value_is_out_of_range")
    return value


def _filter_values(value: dict[str, list[str]]) -> dict[str, list[str]]:
    if len(value) > MAX_ITEMS:
        raise ValueError("too_many_items")
    for key, values in value.items():
        check_text(key)
        if not key or len(key) > 255 or not values or len(values) > 1000:
            raise ValueError("value_is_invalid")
        for item in values:
            check_text(item)
            if not item or len(item) > 255:
                raise ValueError("value_is_invalid")
    return value


def _metadata(value: dict[str, str | None]) -> dict[str, str | None]:
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError("too_many_items")
    for key, item in value.items():
        check_text(key)
        if not key or len(key) > 100 or (item is not None and (len(check_text(item)) > 255)):
            raise ValueError("value_is_invalid")
    return value


TrialPeriod = Annotated[DecimalNumber, AfterValidator(_trial_period)]
Units = Annotated[DecimalNumber, AfterValidator(_units)]
FilterValues = Annotated[dict[str, list[str]], AfterValidator(_filter_values)]
Metadata = Annotated[dict[str, str | None], AfterValidator(_metadata)]


class ChargeFilterInput(InputModel):
    invoice_display_name: OptionalName | None = None
    properties: JsonObject = Field(default_factory=dict)
    values: FilterValues


class ChargeInput(InputModel):
    """A charge inside a plan body (create: new charges; update: `id` or `code` names an existing one)."""

    id: uuid.UUID | None = None
    billable_metric_id: uuid.UUID | None = None
    billable_metric_code: Code | None = None
    code: Code | None = None
    charge_model: ChargeModel | None = None
    pay_in_advance: bool | None = None
    invoiceable: bool | None = None
    regroup_paid_fees: Literal["invoice"] | None = None
    invoice_display_name: OptionalName | None = None
    prorated: bool | None = None
    min_amount_cents: AmountCents | None = None
    properties: JsonObject | None = None
    filters: Annotated[list[ChargeFilterInput], Field(max_length=MAX_ITEMS)] | None = None
    tax_codes: TaxCodes | None = None


class FixedChargeInput(InputModel):
    id: uuid.UUID | None = None
    add_on_id: uuid.UUID | None = None
    add_on_code: Code | None = None
    code: Code | None = None
    invoice_display_name: OptionalName | None = None
    units: Units | None = None
    charge_model: FixedChargeModel | None = None
    pay_in_advance: bool | None = None
    prorated: bool | None = None
    properties: JsonObject | None = None
    tax_codes: TaxCodes | None = None
    apply_units_immediately: bool | None = None


class MinimumCommitmentInput(InputModel):
    """Without `amount_cents` (e.g. `{}`) on an update: the commitment is removed."""

    amount_cents: AmountCents | None = None
    invoice_display_name: OptionalName | None = None
    tax_codes: TaxCodes | None = None


class UsageThresholdInput(InputModel):
    amount_cents: Annotated[StrictInt, Field(ge=1, le=10**15)]
    threshold_display_name: OptionalName | None = None
    recurring: bool | None = None


class _PlanFields(InputModel):
    invoice_display_name: OptionalName | None = None
    description: Description | None = None
    trial_period: TrialPeriod | None = None
    bill_charges_monthly: bool | None = None
    bill_fixed_charges_monthly: bool | None = None
    tax_codes: TaxCodes | None = None
    minimum_commitment: MinimumCommitmentInput | None = None
    charges: Annotated[list[ChargeInput], Field(max_length=MAX_ITEMS)] | None = None
    fixed_charges: Annotated[list[FixedChargeInput], Field(max_length=MAX_ITEMS)] | None = None
    usage_thresholds: Annotated[list[UsageThresholdInput], Field(max_length=MAX_ITEMS)] | None = None
    metadata: Metadata | None = None


class PlanCreateInput(_PlanFields):
    name: Name
    code: Code
    interval: PlanInterval
    amount_cents: AmountCents
    amount_currency: Currency
    pay_in_advance: bool | None = None


class PlanUpdateInput(_PlanFields):
    name: Name | None = None
    code: Code | None = None
    interval: PlanInterval | None = None
    amount_cents: AmountCents | None = None
    amount_currency: Currency | None = None
    pay_in_advance: bool | None = None
    cascade_updates: bool | None = None


class PlanCreateBody(BaseModel):
    plan: PlanCreateInput


class PlanUpdateBody(BaseModel):
    plan: PlanUpdateInput


class PlanResponse(BaseModel):
    plan: Plan


class PlansResponse(BaseModel):
    plans: list[Plan]
    meta: PaginationMeta


class PlanVersionResponse(BaseModel):
    plan_version: PlanVersion


class PlanVersionsResponse(BaseModel):
    plan_versions: list[PlanVersion]
    meta: PaginationMeta


class PlanMetadataBody(BaseModel):
    metadata: Metadata


class PlanMetadataResponse(BaseModel):
    metadata: dict[str, str | None] | None


# -- charges sub-resources ---------------------------------------------------------------------------

class ChargeWriteInput(ChargeInput):
    cascade_updates: bool | None = None


class ChargeBody(BaseModel):
    charge: ChargeWriteInput


class CascadeOnly(InputModel):
    cascade_updates: bool | None = None


class ChargeDeleteBody(BaseModel):
    charge: CascadeOnly = Field(default_factory=CascadeOnly)


class ChargeResponse(BaseModel):
    charge: Charge


class ChargesResponse(BaseModel):
    charges: list[Charge]
    meta: PaginationMeta


class ChargeFilterWriteInput(InputModel):
    invoice_display_name: OptionalName | None = None
    properties: JsonObject | None = None
    values: FilterValues | None = None
    cascade_updates: bool | None = None


class ChargeFilterBody(BaseModel):
    filter: ChargeFilterWriteInput


class ChargeFilterDeleteBody(BaseModel):
    filter: CascadeOnly = Field(default_factory=CascadeOnly)


class ChargeFilterObject(ChargeFilter):
    charge_code: str


class ChargeFilterResponse(BaseModel):
    filter: ChargeFilterObject


class ChargeFiltersResponse(BaseModel):
    filters: list[ChargeFilterObject]
    meta: PaginationMeta


class FixedChargeWriteInput(FixedChargeInput):
    cascade_updates: bool | None = None


class FixedChargeBody(BaseModel):
    fixed_charge: FixedChargeWriteInput


class FixedChargeDeleteBody(BaseModel):
    fixed_charge: CascadeOnly = Field(default_factory=CascadeOnly)


class FixedChargeResponse(BaseModel):
    fixed_charge: FixedCharge


class FixedChargesResponse(BaseModel):
    fixed_charges: list[FixedCharge]
    meta: PaginationMeta


# -- entitlements ------------------------------------------------------------------------------------------

PrivilegeValues = Annotated[dict[Code, Any], Field(max_length=MAX_ITEMS), AfterValidator(check_json)]


class EntitlementsBody(BaseModel):
    entitlements: Annotated[dict[Code, PrivilegeValues], Field(max_length=MAX_ITEMS)] = Field(
        description='Feature code → {privilege code: value}, e.g. {"seats": {"max": 20}}.'
    )


class PlanEntitlementsResponse(BaseModel):
    entitlements: list[PlanEntitlement]


class PlanEntitlementResponse(BaseModel):
    entitlement: PlanEntitlement
