"""Coupons in Lago's shapes (`{"coupon": {...}}`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictInt

from catalog.common.inputs import (
    MAX_ITEMS,
    AmountCents,
    Code,
    Currency,
    DecimalNumber,
    Description,
    InputModel,
    Name,
)
from invora.events.contracts.catalog import Coupon
from invora.web.pagination import PaginationMeta


def _rate(value):
    if value <= 0 or value > 100:
        raise ValueError("value_is_out_of_range")
    return value


PercentageRate = Annotated[DecimalNumber, AfterValidator(_rate)]
Frequency = Literal["once", "recurring", "forever"]
Expiration = Literal["no_expiration", "time_limit"]


def _utc(value: datetime) -> datetime:
    """Naive timestamps are UTC (as Lago reads them); years past 9000 are refused."""
    if value.year > 9000:
        raise ValueError("invalid_date")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


ExpirationAt = Annotated[datetime, AfterValidator(_utc)]


class AppliesTo(InputModel):
    plan_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None
    billable_metric_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None


class _CouponFields(InputModel):
    description: Description | None = None
    amount_cents: AmountCents | None = None
    amount_currency: Currency | None = None
    percentage_rate: PercentageRate | None = None
    reusable: bool | None = None
    frequency_duration: Annotated[StrictInt, Field(ge=1, le=1200)] | None = None
    expiration_at: ExpirationAt | None = None
    applies_to: AppliesTo | None = None


class CouponCreateInput(_CouponFields):
    name: Name
    code: Code
    coupon_type: Literal["fixed_amount", "percentage"]
    frequency: Frequency
    expiration: Expiration


class CouponUpdateInput(_CouponFields):
    name: Name | None = None
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
