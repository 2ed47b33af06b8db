"""Request and response bodies of the fees API (Lago's shapes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict

from invora.events.contracts.invoicing import Fee
from invora.web.decimals import DecimalInput
from invora.web.pagination import PaginationMeta


class FeeResponse(BaseModel):
    fee: Fee


class FeesResponse(BaseModel):
    fees: list[Fee]
    meta: PaginationMeta


class FeeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_status: Literal["pending", "succeeded", "failed", "refunded"]


class FeeUpdateBody(BaseModel):
    fee: FeeUpdate


class FeeAdjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    units: Annotated[Decimal, DecimalInput(le=10**12, places=10)] | None = None
    unit_precise_amount: Annotated[Decimal, DecimalInput(le=10**12, places=12)] | None = None


class FeeAdjustmentBody(BaseModel):
    adjustment: FeeAdjustment
