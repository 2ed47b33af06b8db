"""Provider connections in the API: `{"payment_provider": {...}}` in and out; credentials never come back."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from invora.web.pagination import PaginationMeta

Code = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00]+$")]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\x00]+$")]
Url = Annotated[str, StringConstraints(max_length=1024, pattern=r"^https?://[^\x00\s]+$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentProviderCreateInput(_Input):
    provider_type: Literal["stripe"] = Field(description="The provider (only Stripe is built so far).")
    code: Code = Field(description="Unique per organization; customers name it in "
                                   "`billing_configuration.payment_provider_code`.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    secret_key: Secret = Field(description="The provider's secret API key (stored encrypted, never returned).")
    webhook_secret: Secret | None = Field(None, description="The secret that signs the provider's webhooks "
                                                            "(Stripe: `whsec_...`), stored encrypted.")
    success_redirect_url: Url | None = None


class PaymentProviderUpdateInput(_Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    secret_key: Secret | None = None
    webhook_secret: Secret | None = None
    success_redirect_url: Url | None = None


class PaymentProviderCreateBody(_Input):
    payment_provider: PaymentProviderCreateInput


class PaymentProviderUpdateBody(_Input):
    payment_provider: PaymentProviderUpdateInput


class PaymentProviderObject(BaseModel):
    lago_id: uuid.UUID
    provider_type: str
    code: str
    name: str
    secret_key: str = Field(description="The key's last four characters, masked.")
    has_webhook_secret: bool
    webhook_path: str = Field(description="Where the provider sends its webhooks (POST, relative to the API's "
                                          "origin).")
    success_redirect_url: str | None
    created_at: datetime
    updated_at: datetime


class PaymentProviderResponse(BaseModel):
    payment_provider: PaymentProviderObject


class PaymentProvidersResponse(BaseModel):
    payment_providers: list[PaymentProviderObject]
    meta: PaginationMeta
