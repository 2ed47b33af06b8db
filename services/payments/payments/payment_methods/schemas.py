"""Payment methods in the API (Lago's `PaymentMethodObject`), with the card's details for the billing page."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from invora.web.pagination import PaginationMeta


class PaymentMethodObject(BaseModel):
    lago_id: uuid.UUID
    is_default: bool
    payment_provider_code: str | None
    payment_provider_name: str | None
    payment_provider_type: str
    provider_method_id: str
    type: str
    brand: str | None
    last4: str | None
    expiration_month: int | None
    expiration_year: int | None
    created_at: datetime | None


class PaymentMethodResponse(BaseModel):
    payment_method: PaymentMethodObject


class PaymentMethodsResponse(BaseModel):
    payment_methods: list[PaymentMethodObject]
    meta: PaginationMeta
