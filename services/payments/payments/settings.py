"""Payments settings: env vars prefixed `INVORA_PAYMENTS_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from invora.documents.settings import DocumentSettings


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
    charger_backoff_seconds: float = Field(5.0, gt=0, description="First wait before a charge whose provider did not "
                                                                  "answer is looked up and retried (doubles each "
                                                                  "time, at most 1 h).")
    reconcile_after_seconds: float = Field(60.0, ge=0, description="How long a charge the provider left `processing` "
                                                                  "or `requires_action` waits for its webhook before "
                                                                  "the reconciler looks it up by reference.")
    reconcile_interval_seconds: float = Field(300.0, gt=0, description="How often the reconciler looks up a charge "
                                                                      "that is still unsettled.")

    @model_validator(mode="after")
    def _lease_outlives_a_call(self) -> PaymentsSettings:
        # a claim must outlive the provider call it covers, or a second process could reconcile (and charge)
        # while the first call is still in flight
        if self.charger_lease_seconds <= 2 * self.provider_timeout_seconds:
            raise ValueError("charger_lease_seconds must exceed twice provider_timeout_seconds")
        return self
