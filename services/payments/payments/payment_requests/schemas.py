"""Payment requests in the API (Lago's `PaymentRequestCreateInput`, `PaymentRequest`, `PaymentRequestsPaginated`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from invora.events.contracts.payments import PaymentRequest
from invora.web.pagination import PaginationMeta


class PaymentRequestInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_customer_id: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00]+$")]
    email: Annotated[str, StringConstraints(max_length=255, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")] = Field(
        description="Where dunning notifications of this request go.")
    lago_invoice_ids: list[uuid.UUID] = Field(min_length=1, max_length=100,
                                              description="The customer's unpaid, finalized invoices to bundle.")


class PaymentRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_request: PaymentRequestInput


class PaymentRequestResponse(BaseModel):
    payment_request: PaymentRequest


class PaymentRequestsResponse(BaseModel):
    payment_requests: list[PaymentRequest]
    meta: PaginationMeta
