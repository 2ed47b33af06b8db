"""Wallets settings: env vars prefixed `INVORA_WALLETS_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from invora.settings import ServiceSettings


class WalletsSettings(ServiceSettings):
    service_name: ClassVar[str] = "wallets"
    default_port: ClassVar[int] = 8105

    scheduler_enabled: bool = Field(True, description="Run the expiry loop (credit blocks and wallets past their "
                                                      "expiration) in this process.")
    expiry_interval_seconds: float = Field(30.0, gt=0, description="How often the expiry loop looks for due blocks.")
    alerts_interval_seconds: float = Field(15.0, gt=0, description="How often wallet alerts compare the "
                                                                   "balances they watch with their thresholds "
                                                                   "(runs with the scheduler).")
    reconciliation_enabled: bool = Field(True, description="Run the ledger reconciliation loop in this process.")
    reconciliation_interval_seconds: float = Field(
        300.0, gt=0, description="How often every balance is checked against the sum of its ledger entries.")
    usage_refresh_enabled: bool = Field(True, description="Refresh each wallet's ongoing usage (current unbilled "
                                                          "usage) from the subscriptions service, with the "
                                                          "scheduler; needs a key for it.")
    usage_refresh_interval_seconds: float = Field(60.0, gt=0, description="Seconds between ongoing usage refreshes.")
    usage_refresh_concurrency: int = Field(8, ge=1, le=256, description="Customers asked of subscriptions at once.")
    subscriptions_url: str = Field("http://127.0.0.1:8102", description="Base URL of the subscriptions service.")
    service_signing_key: str | None = Field(
        None, description="Private key (PEM text or path) that signs short-lived `service` keys, one per "
                          "organization, for calls to the subscriptions service. Takes precedence over "
                          "`subscriptions_api_key`.")
    subscriptions_api_key: str | None = Field(
        None, description="A fixed `service` API key for the subscriptions service (single-organization deployments).")
    subscriptions_timeout_seconds: float = Field(5.0, gt=0, description="Timeout of one call to subscriptions.")
    subscriptions_retries: int = Field(2, ge=0, le=10, description="Retries of a failed call to subscriptions.")
    usage_credits_min_cents: int = Field(500, ge=1, description="Smallest \"add usage credits\" purchase "
                                                                "(minor units; seed 003: $5).")
    usage_credits_max_cents: int = Field(500_000, ge=1, description="Largest \"add usage credits\" purchase "
                                                                    "(minor units; seed 003: $5,000).")
    manual_credit_max_cents: int = Field(100_000_000, ge=1, description="Largest manual credit the operations "
                                                                        "console may issue at once (minor units).")
