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


class PaymentMethodReference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_method_type: Annotated[str, StringConstraints(max_length=50, pattern=r"^[^\x00]*$")] | None = None
    payment_method_id: Annotated[str, StringConstraints(max_length=255, pattern=r"^[^\x00]*$")] | None = None


class RetryPaymentBody(BaseModel):
    """Lago's optional body: the payment method to use (only the customer's default is supported here)."""

    model_config = ConfigDict(extra="forbid")

    payment_method: PaymentMethodReference | None = None


class RetryPaymentResponse(BaseModel):
    payment: Payment = Field(description="The new charge attempt (`pending`; the charger sends it).")
