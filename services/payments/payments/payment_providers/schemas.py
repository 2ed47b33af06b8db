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


Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class _Connection(_Input):
    code: Code = Field(description="Unique per organization; customers name it in "
                                   "`billing_configuration.payment_provider_code`.")
    name: Name
    success_redirect_url: Url | None = None

    def stored(self) -> tuple[str, str | None, dict[str, str]]:
        """What the row keeps: the main secret, the webhook secret, the non-secret settings."""
        raise NotImplementedError


class StripeConnection(_Connection):
    provider_type: Literal["stripe"]
    secret_key: Secret = Field(description="Stripe's secret API key (stored encrypted, never returned).")
    webhook_secret: Secret | None = Field(None, description="The endpoint's signing secret (`whsec_...`), "
                                                            "stored encrypted.")

    def stored(self) -> tuple[str, str | None, dict[str, str]]:
        return self.secret_key, self.webhook_secret, {}


class PaystackConnection(_Connection):
    provider_type: Literal["paystack"]
    secret_key: Secret = Field(description="Paystack's secret key (`sk_...`); it also signs Paystack's webhooks.")

    def stored(self) -> tuple[str, str | None, dict[str, str]]:
        return self.secret_key, None, {}


class FlutterwaveConnection(_Connection):
    provider_type: Literal["flutterwave"]
    secret_key: Secret = Field(description="Flutterwave's secret key (`FLWSECK-...`), stored encrypted.")
    webhook_secret: Secret | None = Field(None, description="The secret hash set in Flutterwave's dashboard; "
                                                            "Flutterwave sends it in `verif-hash`.")

    def stored(self) -> tuple[str, str | None, dict[str, str]]:
        return self.secret_key, self.webhook_secret, {}


PaymentProviderCreateInput = Annotated[
    StripeConnection | PaystackConnection | FlutterwaveConnection, Field(discriminator="provider_type")]

# which update fields each provider takes, and where each is kept (`secret_key`, `webhook_secret` or a setting)
UPDATABLE_FIELDS: dict[str, dict[str, str]] = {
    "stripe": {"secret_key": "secret_key", "webhook_secret": "webhook_secret"},
    "paystack": {"secret_key": "secret_key"},
    "flutterwave": {"secret_key": "secret_key", "webhook_secret": "webhook_secret"},
}


class PaymentProviderUpdateInput(_Input):
    name: Name | None = None
    success_redirect_url: Url | None = None
    secret_key: Secret | None = Field(None, description="Stripe, Paystack, Flutterwave: the secret key.")
    webhook_secret: Secret | None = Field(None, description="Stripe: the signing secret; Flutterwave: the "
                                                            "secret hash.")


class PaymentProviderCreateBody(_Input):
    payment_provider: PaymentProviderCreateInput = Field(description="A connection: `provider_type` names the "
                                                                     "provider and the fields it takes.")


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
