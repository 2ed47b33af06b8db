"""Payments in the API (Lago's shapes): manual payments in, `PaymentObject` out."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from invora.events.contracts.payments import Payment
from invora.web.inputs import StrictInt
from invora.web.pagination import PaginationMeta


class ManualPaymentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_id: uuid.UUID
    amount_cents: StrictInt = Field(gt=0, le=2**62)
    reference: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[^\x00]+$")]
    paid_at: date | None = Field(None, description="When the money was received (a wire, a cheque); default today.")


class ManualPaymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment: ManualPaymentInput


class PaymentResponse(BaseModel):
    payment: Payment


class PaymentsResponse(BaseModel):
    payments: list[Payment]
    meta: PaginationMeta
