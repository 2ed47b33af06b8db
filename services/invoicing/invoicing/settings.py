"""Invoicing settings: env vars prefixed `INVORA_INVOICING_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from invora.documents.settings import DocumentSettings


class InvoicingSettings(DocumentSettings):
    service_name: ClassVar[str] = "invoicing"
    default_port: ClassVar[int] = 8103

    scheduler_enabled: bool = Field(True, description="Finalize drafts after their grace period, flag overdue "
                                                      "invoices, in this process.")
    scheduler_interval_seconds: float = Field(10.0, gt=0, description="Seconds between scheduler passes.")
    prepaid_credits_resend_after_seconds: float = Field(
        60.0, gt=0, description="A pending invoice whose prepaid-credits request has had no answer for this long "
                                "is asked again (wallets answers a repeated request the same).")
    prepaid_credits_abandon_after_seconds: float = Field(
        3600.0, gt=0, description="A `pending` invoice still without an answer this long after its request is "
                                  "finalized without prepaid credits, and a release is sent so that whatever wallets "
                                  "applied (or would apply later) is given back.")
    # reads from other services that need a fresh answer (previews of existing subscriptions; plan versions
    # missing from the projection), signed with short-lived `service` keys
    subscriptions_url: str = Field("http://127.0.0.1:8102", description="Base URL of the subscriptions service.")
    wallets_url: str = Field("http://127.0.0.1:8105", description="Base URL of the wallets service.")
    catalog_url: str = Field("http://127.0.0.1:8101", description="Base URL of the catalog service.")
    service_signing_key: str | None = Field(
        None, description="Private key (PEM text or path) that signs short-lived `service` keys, one per "
                          "organization, for calls to other services. Takes precedence over `service_api_key`.")
    service_api_key: str | None = Field(
        None, description="A fixed `service` API key for calls to other services (single-organization deployments).")
    service_timeout_seconds: float = Field(3.0, gt=0, le=60, description="Timeout of one call to another service.")
    service_retries: int = Field(1, ge=0, le=10, description="Retries of a failed call to another service.")
