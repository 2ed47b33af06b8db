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

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

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
from invora.web.decimals import DecimalInput
from invora.web.fields import (
    MAX_ITEMS,
    AmountCents,
    Code,
    CurrencyChoice,
    Description,
    Name,
    RequiredName,
    TaxCodes,
    Text,
)
from invora.web.inputs import InputModel, JsonObject, JsonValue, StrictInt, check_json, check_text, documented_as
from invora.web.pagination import PaginationMeta
from invora.web.schema_rules import any_given, given

MAX_TRIAL_DAYS = 36_500
MAX_UNITS = 10**12
MAX_METADATA_KEYS = 50
MAX_FILTER_VALUES = 1000


def _filter_values(value: dict[str, list[str]]) -> dict[str, list[str]]:
    if len(value) > MAX_ITEMS:
        raise ValueError("too_many_items")
    for key, values in value.items():
        check_text(key)
        if not key or len(key) > 255 or not values or len(values) > MAX_FILTER_VALUES:
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


TrialPeriod = Annotated[Decimal, DecimalInput(le=MAX_TRIAL_DAYS)]
Units = Annotated[Decimal, DecimalInput(le=MAX_UNITS, places=10)]
# validated as a whole (one error code for the field), documented in detail
FilterValues = Annotated[
    dict[str, list[str]],
    # a filter names at least one key (`rules` answers `value_is_mandatory` for `{}`)
    documented_as(Annotated[dict[Code, Annotated[list[Code], Field(min_length=1, max_length=MAX_FILTER_VALUES)]],
                            Field(min_length=1, max_length=MAX_ITEMS)]),
    AfterValidator(_filter_values),
]
Metadata = Annotated[
    dict[str, str | None],
    documented_as(Annotated[dict[Annotated[Text, StringConstraints(min_length=1, max_length=100)],
                                 Annotated[Text, StringConstraints(max_length=255)] | None],
                            Field(max_length=MAX_METADATA_KEYS)]),
    AfterValidator(_metadata),
]


class ChargeFilterInput(InputModel):
    invoice_display_name: Name | None = None
    properties: JsonObject = Field(default_factory=dict)
    values: FilterValues


class ChargeInput(InputModel):
    """A charge inside a plan body (create: new charges; update: `id` or `code` names an existing one)."""

    id: uuid.UUID | None = None
    billable_metric_id: uuid.UUID | None = None
    billable_metric_code: Code | None = None
    code: Code | None = None
    charge_model: ChargeModel | None = None
    pay_in_advance: StrictBool | None = None
    invoiceable: StrictBool | None = None
    regroup_paid_fees: Literal["invoice"] | None = None
    invoice_display_name: Name | None = None
    prorated: StrictBool | None = None
    min_amount_cents: AmountCents | None = None
    properties: JsonObject | None = None
    filters: Annotated[list[ChargeFilterInput], Field(max_length=MAX_ITEMS)] | None = None
    tax_codes: TaxCodes | None = None


class FixedChargeInput(InputModel):
    id: uuid.UUID | None = None
    add_on_id: uuid.UUID | None = None
    add_on_code: Code | None = None
    code: Code | None = None
    invoice_display_name: Name | None = None
    units: Units | None = None
    charge_model: FixedChargeModel | None = None
    pay_in_advance: StrictBool | None = None
    prorated: StrictBool | None = None
    properties: JsonObject | None = None
    tax_codes: TaxCodes | None = None
    apply_units_immediately: StrictBool | None = None


def _existing_or_new(*names: str) -> dict[str, Any]:
    """JSON schema of a charge in a plan update (checked in `assemble`): it names an existing one (`id`,
    `code`), or is a whole new one. A `code` naming no charge of the plan also makes a new one: that the
    schema cannot see.
    """
    return {"anyOf": [given("id"), given("code"), {"allOf": [any_given(*names), given("charge_model")]}]}


class NewChargeInput(ChargeInput):
    """A charge created with its plan: it names its metric and its model."""

    model_config = ConfigDict(json_schema_extra=any_given("billable_metric_id", "billable_metric_code"))

    charge_model: ChargeModel


class NewFixedChargeInput(FixedChargeInput):
    """A fixed charge created with its plan: it names its add-on and its model."""

    model_config = ConfigDict(json_schema_extra=any_given("add_on_id", "add_on_code"))

    charge_model: FixedChargeModel


class MinimumCommitmentInput(InputModel):
    """Without `amount_cents` (e.g. `{}`) on an update: the commitment is removed."""

    amount_cents: AmountCents | None = None
    invoice_display_name: Name | None = None
    tax_codes: TaxCodes | None = None


class UsageThresholdInput(InputModel):
    amount_cents: Annotated[StrictInt, Field(ge=1, le=10**15)]
    threshold_display_name: Name | None = None
    recurring: StrictBool | None = None


class _PlanFields(InputModel):
    invoice_display_name: Name | None = None
    description: Description | None = None
    trial_period: TrialPeriod | None = None
    bill_charges_monthly: StrictBool | None = None
    bill_fixed_charges_monthly: StrictBool | None = None
    tax_codes: TaxCodes | None = None
    minimum_commitment: MinimumCommitmentInput | None = None
    charges: Annotated[list[ChargeInput], Field(max_length=MAX_ITEMS)] | None = None
    fixed_charges: Annotated[list[FixedChargeInput], Field(max_length=MAX_ITEMS)] | None = None
    usage_thresholds: Annotated[list[UsageThresholdInput], Field(max_length=MAX_ITEMS)] | None = None
    metadata: Metadata | None = None


class PlanCreateInput(_PlanFields):
    name: RequiredName
    code: Code
    interval: PlanInterval
    amount_cents: AmountCents
    amount_currency: CurrencyChoice
    pay_in_advance: StrictBool | None = None
    charges: Annotated[list[NewChargeInput], Field(max_length=MAX_ITEMS)] | None = None
    fixed_charges: Annotated[list[NewFixedChargeInput], Field(max_length=MAX_ITEMS)] | None = None


class UpdatedChargeInput(ChargeInput):
    model_config = ConfigDict(json_schema_extra=_existing_or_new("billable_metric_id", "billable_metric_code"))


class UpdatedFixedChargeInput(FixedChargeInput):
    model_config = ConfigDict(json_schema_extra=_existing_or_new("add_on_id", "add_on_code"))


class PlanUpdateInput(_PlanFields):
    charges: Annotated[list[UpdatedChargeInput], Field(max_length=MAX_ITEMS)] | None = None
    fixed_charges: Annotated[list[UpdatedFixedChargeInput], Field(max_length=MAX_ITEMS)] | None = None
    name: RequiredName | None = None
    code: Code | None = None
    interval: PlanInterval | None = None
    amount_cents: AmountCents | None = None
    amount_currency: CurrencyChoice | None = None
    pay_in_advance: StrictBool | None = None
    cascade_updates: StrictBool | None = None


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
    cascade_updates: StrictBool | None = None


class ChargeCreateInput(NewChargeInput):
    cascade_updates: StrictBool | None = None


class ChargeBody(BaseModel):
    charge: ChargeWriteInput


class ChargeCreateBody(BaseModel):
    charge: ChargeCreateInput


class CascadeOnly(InputModel):
    cascade_updates: StrictBool | None = None


class ChargeDeleteBody(BaseModel):
    charge: CascadeOnly = Field(default_factory=CascadeOnly)


class ChargeResponse(BaseModel):
    charge: Charge


class ChargesResponse(BaseModel):
    charges: list[Charge]
    meta: PaginationMeta


class ChargeFilterWriteInput(InputModel):
    invoice_display_name: Name | None = None
    properties: JsonObject | None = None
    values: FilterValues | None = None
    cascade_updates: StrictBool | None = None


class ChargeFilterCreateInput(ChargeFilterWriteInput):
    values: FilterValues


class ChargeFilterBody(BaseModel):
    filter: ChargeFilterWriteInput


class ChargeFilterCreateBody(BaseModel):
    filter: ChargeFilterCreateInput


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
    cascade_updates: StrictBool | None = None


class FixedChargeCreateInput(NewFixedChargeInput):
    cascade_updates: StrictBool | None = None


class FixedChargeBody(BaseModel):
    fixed_charge: FixedChargeWriteInput


class FixedChargeCreateBody(BaseModel):
    fixed_charge: FixedChargeCreateInput


class FixedChargeDeleteBody(BaseModel):
    fixed_charge: CascadeOnly = Field(default_factory=CascadeOnly)


class FixedChargeResponse(BaseModel):
    fixed_charge: FixedCharge


class FixedChargesResponse(BaseModel):
    fixed_charges: list[FixedCharge]
    meta: PaginationMeta


# -- entitlements ------------------------------------------------------------------------------------------

PrivilegeValues = Annotated[dict[Code, Any], Field(max_length=MAX_ITEMS), documented_as(dict[Code, JsonValue]),
                            AfterValidator(check_json)]


class EntitlementsBody(BaseModel):
    entitlements: Annotated[dict[Code, PrivilegeValues], Field(max_length=MAX_ITEMS)] = Field(
        description='Feature code → {privilege code: value}, e.g. {"seats": {"max": 20}}.'
    )


class PlanEntitlementsResponse(BaseModel):
    entitlements: list[PlanEntitlement]


class PlanEntitlementResponse(BaseModel):
    entitlement: PlanEntitlement
