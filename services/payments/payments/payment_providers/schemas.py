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


Hex = Annotated[str, StringConstraints(min_length=2, max_length=1024, pattern=r"^(?:[0-9A-Fa-f]{2})+$")]
Setting = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00]+$")]


class AdyenConnection(_Connection):
    """Lago's Adyen fields."""

    provider_type: Literal["adyen"]
    api_key: Secret = Field(description="The web service user's API key (stored encrypted, never returned).")
    hmac_key: Hex | None = Field(None, description="The webhook's HMAC key (hex), stored encrypted.")
    merchant_account: Setting = Field(description="The merchant account charges are made on.")
    live_prefix: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")] | None = \
        Field(None, description="The live endpoint's prefix; unset: Adyen's test environment.")

    def stored(self) -> tuple[str, str | None, dict[str, str]]:
        settings = {"merchant_account": self.merchant_account}
        if self.live_prefix:
            settings["live_prefix"] = self.live_prefix
        return self.api_key, self.hmac_key, settings


class GoCardlessConnection(_Connection):
    provider_type: Literal["gocardless"]
    access_token: Secret = Field(description="GoCardless's access token (Lago obtains it through OAuth; here it is "
                                             "given), stored encrypted.")
    webhook_secret: Secret | None = Field(None, description="The webhook endpoint's secret, which signs "
                                                            "`Webhook-Signature`; stored encrypted.")

    def stored(self) -> tuple[str, str | None, dict[str, str]]:
        return self.access_token, self.webhook_secret, {}


class CashfreeConnection(_Connection):
    """Lago's Cashfree fields (`client_id`, `client_secret`, `redirect_url`)."""

    provider_type: Literal["cashfree"]
    client_id: Setting = Field(description="Cashfree's client (app) id, sent as `x-client-id`.")
    client_secret: Secret = Field(description="Cashfree's client secret (stored encrypted, never returned); it also "
                                              "signs Cashfree's webhooks.")
    redirect_url: Url | None = Field(None, description="Lago's name for `success_redirect_url`: where the payment "
                                                       "link returns the customer.")

    def model_post_init(self, context: object, /) -> None:
        if self.redirect_url and not self.success_redirect_url:
            self.success_redirect_url = self.redirect_url

    def stored(self) -> tuple[str, str | None, dict[str, str]]:
        return self.client_secret, None, {"client_id": self.client_id}


class TapConnection(_Connection):
    """Tap (Lago has no Tap integration): the secret key, and where Tap must post its webhooks."""

    provider_type: Literal["tap"]
    secret_key: Secret = Field(description="Tap's secret key (`sk_…`), stored encrypted; it also signs Tap's "
                                           "webhooks (`hashstring`).")
    webhook_url: Url | None = Field(None, description="The public URL of this connection's `webhook_path`: Tap "
                                                      "posts each charge's webhook to the `post.url` of its request.")

    def stored(self) -> tuple[str, str | None, dict[str, str]]:
        return self.secret_key, None, {"webhook_url": self.webhook_url} if self.webhook_url else {}


class MoneyhashConnection(_Connection):
    """Lago's MoneyHash fields (`api_key`, `flow_id`), the webhook signature key (read from MoneyHash when not
    given, as Lago does), and where MoneyHash must post its webhooks."""

    provider_type: Literal["moneyhash"]
    api_key: Secret = Field(description="The MoneyHash account's API key (`x-Api-Key`), stored encrypted.")
    flow_id: Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[^\x00\s]+$")] = Field(
        description="The MoneyHash flow intents are created in (Lago: at most 20 characters).")
    signature_key: Secret | None = Field(None, description="The account's webhook signature key, stored encrypted; "
                                                           "it verifies `MoneyHash-Signature`. Unset: asked of "
                                                           "MoneyHash (`get-webhook-signature-key`), as Lago does.")
    webhook_url: Url | None = Field(None, description="The public URL of this connection's `webhook_path`, sent as "
                                                      "each intent's `webhook_url`.")

    def stored(self) -> tuple[str, str | None, dict[str, str]]:
        settings = {"flow_id": self.flow_id}
        if self.webhook_url:
            settings["webhook_url"] = self.webhook_url
        return self.api_key, self.signature_key, settings


PaymentProviderCreateInput = Annotated[
    StripeConnection | PaystackConnection | FlutterwaveConnection | AdyenConnection | GoCardlessConnection
    | CashfreeConnection | TapConnection | MoneyhashConnection,
    Field(discriminator="provider_type")]

# which update fields each provider takes, and where each is kept (`secret_key`, `webhook_secret` or a setting)
UPDATABLE_FIELDS: dict[str, dict[str, str]] = {
    "stripe": {"secret_key": "secret_key", "webhook_secret": "webhook_secret"},
    "paystack": {"secret_key": "secret_key"},
    "flutterwave": {"secret_key": "secret_key", "webhook_secret": "webhook_secret"},
    "adyen": {"api_key": "secret_key", "hmac_key": "webhook_secret", "merchant_account": "settings.merchant_account",
              "live_prefix": "settings.live_prefix"},
    "gocardless": {"access_token": "secret_key", "webhook_secret": "webhook_secret"},
    "cashfree": {"client_id": "settings.client_id", "client_secret": "secret_key",
                 "redirect_url": "success_redirect_url"},
    "tap": {"secret_key": "secret_key", "webhook_url": "settings.webhook_url"},
    "moneyhash": {"api_key": "secret_key", "signature_key": "webhook_secret", "flow_id": "settings.flow_id",
                  "webhook_url": "settings.webhook_url"},
}


class PaymentProviderUpdateInput(_Input):
    name: Name | None = None
    success_redirect_url: Url | None = None
    secret_key: Secret | None = Field(None, description="Stripe, Paystack, Flutterwave: the secret key.")
    webhook_secret: Secret | None = Field(None, description="Stripe: the signing secret; Flutterwave: the "
                                                            "secret hash; GoCardless: the endpoint's secret.")
    api_key: Secret | None = Field(None, description="Adyen, MoneyHash: the API key.")
    hmac_key: Hex | None = Field(None, description="Adyen: the webhook HMAC key.")
    merchant_account: Setting | None = Field(None, description="Adyen: the merchant account.")
    live_prefix: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")] | None = \
        Field(None, description="Adyen: the live endpoint's prefix.")
    access_token: Secret | None = Field(None, description="GoCardless: the access token.")
    client_id: Setting | None = Field(None, description="Cashfree: the client id.")
    client_secret: Secret | None = Field(None, description="Cashfree: the client secret.")
    redirect_url: Url | None = Field(None, description="Cashfree: Lago's name for `success_redirect_url`.")
    webhook_url: Url | None = Field(None, description="Tap, MoneyHash: where the provider posts its webhooks.")
    flow_id: Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[^\x00\s]+$")] | None = \
        Field(None, description="MoneyHash: the flow intents are created in.")
    signature_key: Secret | None = Field(None, description="MoneyHash: the webhook signature key.")


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
    merchant_account: str | None = Field(None, description="Adyen: the merchant account.")
    live_prefix: str | None = Field(None, description="Adyen: the live endpoint's prefix (unset: test).")
    client_id: str | None = Field(None, description="Cashfree: the client id.")
    webhook_url: str | None = Field(None, description="Tap, MoneyHash: where the provider posts its webhooks.")
    flow_id: str | None = Field(None, description="MoneyHash: the flow intents are created in.")
    created_at: datetime
    updated_at: datetime


class PaymentProviderResponse(BaseModel):
    payment_provider: PaymentProviderObject


class PaymentProvidersResponse(BaseModel):
    payment_providers: list[PaymentProviderObject]
    meta: PaginationMeta
