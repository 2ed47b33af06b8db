"""Payments settings: env vars prefixed `INVORA_PAYMENTS_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from invora.documents.settings import DocumentSettings
from payments.providers.base import PROVIDER_TYPES, ProviderType

# Provider calls in flight at once per connection of a type not named in `PROVIDER_CONCURRENCY`, where the
# provider documents a rate limit that a higher figure would break (docs/payments.md, "Charging an invoice"):
# Stripe allows a live account 100 operations/s and, by default, 25 requests/s to one endpoint; a charge is one
# read (the customer's default method) and one write (the PaymentIntent, confirmed: a card authorization,
# ~0.4 s or more), so 10 in flight stay under 25 PaymentIntents/s and half the account's operations.
PROVIDER_CONCURRENCY_BUILT_IN: dict[str, int] = {"stripe": 10}


class PaymentsSettings(DocumentSettings):
    service_name: ClassVar[str] = "payments"
    default_port: ClassVar[int] = 8104

    stripe_api_base: str | None = Field(
        None, description="Stripe's API base URL; unset: Stripe's own (https://api.stripe.com). Tests and `make run` "
                          "point it at localstripe.")
    paystack_api_base: str | None = Field(
        None, description="Paystack's API base URL; unset: Paystack's own (https://api.paystack.co).")
    flutterwave_api_base: str | None = Field(
        None, description="Flutterwave's v3 API base URL; unset: Flutterwave's own (https://api.flutterwave.com/v3).")
    adyen_api_base: str | None = Field(
        None, description="Adyen's Checkout API base URL, version included; unset: Adyen's test endpoint, or the live "
                          "one of the connection's `live_prefix`.")
    gocardless_api_base: str | None = Field(
        None, description="GoCardless's API base URL; unset: GoCardless's own (https://api.gocardless.com).")
    cashfree_api_base: str | None = Field(
        None, description="Cashfree's PG API base URL; unset: Cashfree's production one (https://api.cashfree.com/pg; "
                          "its sandbox is https://sandbox.cashfree.com/pg).")
    tap_api_base: str | None = Field(
        None, description="Tap's API base URL, version included; unset: Tap's own (https://api.tap.company/v2).")
    moneyhash_api_base: str | None = Field(
        None, description="MoneyHash's API origin (the adapter adds `/api/v1.1`); unset: MoneyHash's own "
                          "(https://web.moneyhash.io).")
    provider_timeout_seconds: float = Field(10.0, gt=0, le=120, description="Timeout of one call to a payment "
                                                                           "provider; a call without an answer is "
                                                                           "reconciled by looking the charge up.")
    charger_enabled: bool = Field(True, description="Run the charger loop (pending charges to providers) here.")
    charger_interval_seconds: float = Field(1.0, gt=0, description="How often the charger looks for due charges "
                                                                   "(it is also woken when one is recorded).")
    charger_lease_seconds: float = Field(60.0, gt=0, description="How long a claimed charge is left to its claimer "
                                                                 "before another process reconciles it.")
    charger_concurrency: int = Field(16, ge=1, le=512, description="Provider calls in flight at once per process.")
    provider_concurrency: dict[ProviderType, Annotated[int, Field(ge=1, le=10_000)]] = Field(
        default_factory=dict, description="Provider calls in flight at once per provider connection, across every "
                                          "process, by provider type (a JSON object, e.g. `{\"stripe\": 32}`); a type "
                                          "not named takes its built-in default (Stripe 10) or "
                                          "`provider_concurrency_default`.")
    provider_concurrency_default: int = Field(64, ge=1, le=10_000, description="Provider calls in flight at once "
                                                                               "per connection of a type without a "
                                                                               "figure of its own.")
    charger_backoff_seconds: float = Field(5.0, gt=0, description="First wait before a charge whose provider did not "
                                                                  "answer is looked up and retried (doubles each "
                                                                  "time, at most 1 h).")
    reconcile_after_seconds: float = Field(60.0, ge=0, description="How long a charge the provider left `processing` "
                                                                  "or `requires_action` waits for its webhook before "
                                                                  "the reconciler looks it up by reference.")
    reconcile_interval_seconds: float = Field(300.0, gt=0, description="How often the reconciler looks up a charge "
                                                                      "that is still unsettled.")

    # customers created a moment ago that the projection has not heard of yet are asked of subscriptions
    subscriptions_url: str = Field("http://127.0.0.1:8102", description="Base URL of the subscriptions service "
                                                                        "(customers created a moment ago, whose "
                                                                        "`customer.created` has not arrived yet).")
    service_signing_key: str | None = Field(
        None, description="Private key (PEM text or path) that signs short-lived `service` keys, one per "
                          "organization, for calls to the subscriptions service. Takes precedence over "
                          "`subscriptions_api_key`.")
    subscriptions_api_key: str | None = Field(
        None, description="A fixed `service` API key for the subscriptions service (single-organization deployments).")
    subscriptions_timeout_seconds: float = Field(5.0, gt=0, le=60, description="Timeout of one call to subscriptions.")
    subscriptions_retries: int = Field(2, ge=0, le=10, description="Retries of a failed call to subscriptions.")

    def provider_limits(self) -> dict[str, int]:
        """Provider calls in flight at once per connection, for every provider type."""
        return {provider_type: self.provider_concurrency.get(  # type: ignore[call-overload]
            provider_type, PROVIDER_CONCURRENCY_BUILT_IN.get(provider_type, self.provider_concurrency_default))
            for provider_type in PROVIDER_TYPES}

    @model_validator(mode="after")
    def _lease_outlives_a_call(self) -> PaymentsSettings:
        # a claim must outlive the provider call it covers, or a second process could reconcile (and charge)
        # while the first call is still in flight
        if self.charger_lease_seconds <= 2 * self.provider_timeout_seconds:
            raise ValueError("charger_lease_seconds must exceed twice provider_timeout_seconds")
        return self
