"""Coupons in Lago's shapes (`{"coupon": {...}}`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from invora.events.contracts.catalog import Coupon
from invora.web.decimals import DecimalInput
from invora.web.fields import MAX_ITEMS, AmountCents, Code, CurrencyChoice, Description, RequiredName
from invora.web.inputs import InputModel, StrictInt
from invora.web.pagination import PaginationMeta
from invora.web.timestamps import TimestampInput

PercentageRate = Annotated[Decimal, DecimalInput(le=100, positive=True)]
Frequency = Literal["once", "recurring", "forever"]
Expiration = Literal["no_expiration", "time_limit"]
# naive timestamps are UTC (as Lago reads them); years past 9000 are refused
ExpirationAt = Annotated[datetime, TimestampInput(1, 9000, out_of_range="invalid_date")]


class AppliesTo(InputModel):
    """Plans or billable metrics, never both (405 `only_one_limitation_type_per_coupon_allowed`)."""

    model_config = ConfigDict(json_schema_extra={"not": {
        "required": ["plan_codes", "billable_metric_codes"],
        "properties": {"plan_codes": {"type": "array", "minItems": 1},
                       "billable_metric_codes": {"type": "array", "minItems": 1}},
    }})

    plan_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None
    billable_metric_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None


class _CouponFields(InputModel):
    description: Description | None = None
    amount_cents: AmountCents | None = None
    amount_currency: CurrencyChoice | None = None
    percentage_rate: PercentageRate | None = None
    reusable: StrictBool | None = None
    frequency_duration: Annotated[StrictInt, Field(ge=1, le=1200)] | None = None
    expiration_at: ExpirationAt | None = None
    applies_to: AppliesTo | None = None


# what the type, frequency and expiration of a new coupon require (checked in `service._rule_errors`)
_COUPON_RULES = {"allOf": [
    {"anyOf": [
        {"properties": {"coupon_type": {"const": "fixed_amount"}, "amount_cents": {"type": "integer", "minimum": 1},
                        "amount_currency": {"type": "string"}},
         "required": ["amount_cents", "amount_currency"]},
        {"properties": {"coupon_type": {"const": "percentage"}, "percentage_rate": {"not": {"type": "null"}}},
         "required": ["percentage_rate"]},
    ]},
    {"anyOf": [
        {"properties": {"frequency": {"enum": ["once", "forever"]}}},
        {"properties": {"frequency": {"const": "recurring"}, "frequency_duration": {"type": "integer"}},
         "required": ["frequency_duration"]},
    ]},
    {"anyOf": [
        {"properties": {"expiration": {"const": "no_expiration"}}},
        {"properties": {"expiration": {"const": "time_limit"}, "expiration_at": {"type": "string"}},
         "required": ["expiration_at"]},
    ]},
]}


class CouponCreateInput(_CouponFields):
    """`expiration_at` must also be in the future."""

    model_config = ConfigDict(json_schema_extra=_COUPON_RULES)

    name: RequiredName
    code: Code
    coupon_type: Literal["fixed_amount", "percentage"]
    frequency: Frequency
    expiration: Expiration


class CouponUpdateInput(_CouponFields):
    name: RequiredName | None = None
    code: Code | None = None
    coupon_type: Literal["fixed_amount", "percentage"] | None = None
    frequency: Frequency | None = None
    expiration: Expiration | None = None


class CouponCreateBody(BaseModel):
    coupon: CouponCreateInput


class CouponUpdateBody(BaseModel):
    coupon: CouponUpdateInput


class CouponResponse(BaseModel):
    coupon: Coupon


class CouponsResponse(BaseModel):
    coupons: list[Coupon]
    meta: PaginationMeta
