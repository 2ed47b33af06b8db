"""Request and response bodies of the applied coupons API (Lago's shapes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from invora.money import CURRENCIES
from invora.web.decimals import DecimalInput
from invora.web.inputs import Choice, StrictInt
from invora.web.pagination import PaginationMeta


class AppliedCouponInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_customer_id: str = Field(min_length=1, max_length=255)
    coupon_code: str = Field(min_length=1, max_length=255)
    frequency: Literal["once", "recurring", "forever"] | None = None
    frequency_duration: StrictInt | None = Field(None, ge=1, le=10_000)
    amount_cents: StrictInt | None = Field(None, ge=0, le=10**15)
    amount_currency: Annotated[str, Choice(CURRENCIES, "currency_code_invalid")] | None = None
    percentage_rate: Annotated[Decimal, DecimalInput(le=100, places=5)] | None = None


class AppliedCouponBody(BaseModel):
    applied_coupon: AppliedCouponInput


class AppliedCoupon(BaseModel):
    lago_id: uuid.UUID
    lago_coupon_id: uuid.UUID
    coupon_code: str
    coupon_name: str
    lago_customer_id: uuid.UUID
    external_customer_id: str
    status: Literal["active", "terminated"]
    amount_cents: int | None = None
    amount_cents_remaining: int | None = None
    amount_currency: str | None = None
    percentage_rate: str | None = None
    frequency: Literal["once", "recurring", "forever"]
    frequency_duration: int | None = None
    frequency_duration_remaining: int | None = None
    expiration_at: datetime | None = None
    created_at: datetime
    terminated_at: datetime | None = None


class AppliedCouponResponse(BaseModel):
    applied_coupon: AppliedCoupon


class AppliedCouponsResponse(BaseModel):
    applied_coupons: list[AppliedCoupon]
    meta: PaginationMeta
