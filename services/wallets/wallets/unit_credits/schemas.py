"""Unit credits in the API: `{"unit_credit": {...}}` in and out, `{"unit_credits": [...], "meta"}` for lists."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from invora.web.decimals import DecimalInput
from invora.web.fields import Code, Reason, Timestamp
from invora.web.inputs import InputModel
from invora.web.pagination import PaginationMeta
from wallets.wallets.schemas import Priority

MAX_UNITS = 10**15
Units = Annotated[Decimal, DecimalInput(le=MAX_UNITS, places=5, positive=True)]


class UnitCreditInput(InputModel):
    billable_metric_code: Code = Field(description="The metric whose units these credits cover (e.g. `api_calls`).")
    units: Units = Field(description="How many units (at most 5 decimals), e.g. \"10000\".")
    reason: Reason
    priority: Priority | None = Field(None, description="1 is consumed first (default 50).")
    expiration_at: Timestamp | None = Field(None, description="What is left is removed then (never recovered).")


class UnitCreditBody(BaseModel):
    unit_credit: UnitCreditInput


class VoidInput(InputModel):
    reason: Reason


class UnitCreditVoidBody(BaseModel):
    unit_credit: VoidInput


class UnitCreditObject(BaseModel):
    lago_id: str
    lago_customer_id: str
    external_customer_id: str
    billable_metric_code: str
    units: str
    remaining_units: str
    priority: int
    expiration_at: str | None
    reason: str
    status: Literal["active", "voided", "expired"]
    ended_at: str | None
    end_reason: str | None
    created_at: str


class UnitCreditResponse(BaseModel):
    unit_credit: UnitCreditObject


class UnitCreditsResponse(BaseModel):
    unit_credits: list[UnitCreditObject]
    meta: PaginationMeta


class UnitCreditApplicationInput(InputModel):
    lago_invoice_id: uuid.UUID = Field(description="The invoice: the idempotency key with the metric.")
    external_customer_id: Code
    billable_metric_code: Code
    units: Annotated[Decimal, DecimalInput(le=MAX_UNITS, places=5)] = Field(
        description="The units the invoice's charge counted; unit credits offset up to this many.")


class UnitCreditApplicationBody(BaseModel):
    unit_credit_application: UnitCreditApplicationInput


class UnitCreditApplicationObject(BaseModel):
    lago_invoice_id: str
    billable_metric_code: str
    requested_units: str
    applied_units: str


class UnitCreditApplicationResponse(BaseModel):
    unit_credit_application: UnitCreditApplicationObject
