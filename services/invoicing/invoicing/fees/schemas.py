"""Request and response bodies of the fees API (Lago's shapes)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from invora.events.contracts.invoicing import Fee
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
