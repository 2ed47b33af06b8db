"""Subscriptions settings: env vars prefixed `INVORA_SUBSCRIPTIONS_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from invora.settings import ServiceSettings


class SubscriptionsSettings(ServiceSettings):
    service_name: ClassVar[str] = "subscriptions"
    default_port: ClassVar[int] = 8102

    catalog_url: str = Field("http://127.0.0.1:8101", description="Base URL of the catalog service.")
    service_signing_key: str | None = Field(
        None, description="Private key (PEM text or path) that signs short-lived `service` keys, one per "
                          "organization, for calls to the catalog. Takes precedence over `catalog_api_key`.")
    catalog_api_key: str | None = Field(
        None, description="A fixed `service` API key for the catalog (single-organization deployments).")
    catalog_timeout_seconds: float = Field(5.0, gt=0, description="Timeout of one call to the catalog.")
    catalog_retries: int = Field(2, ge=0, le=10, description="Retries of a failed catalog call (errors, 5xx).")
    scheduler_enabled: bool = Field(True, description="Run the billing-period scheduler in this process.")
    scheduler_interval_seconds: float = Field(30.0, gt=0, description="Seconds between scheduler passes.")
    scheduler_batch_size: int = Field(100, ge=1, le=10_000, description="Subscriptions handled per transaction batch.")
    usage_revision_grace_seconds: float = Field(
        60.0, ge=0, le=86_400, description="After a period closes, how long until its usage is checked once more "
        "for events whose transaction overlapped the close (longer than any ingestion transaction).")
    entitlement_cache_enabled: bool = Field(
        True, description="Keep each customer's entitlement-check inputs in memory, invalidated by PostgreSQL "
                          "NOTIFY (served from the database only while the LISTEN connection is down).")
    entitlement_cache_seconds: float = Field(300.0, gt=0, le=86_400,
                                             description="Longest time one customer's cached inputs are used.")
    entitlement_cache_max_customers: int = Field(100_000, ge=1, le=10_000_000,
                                                 description="Customers kept in the entitlement cache per replica.")
