"""Invoicing settings: env vars prefixed `INVORA_INVOICING_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from invora.settings import ServiceSettings


class InvoicingSettings(ServiceSettings):
    service_name: ClassVar[str] = "invoicing"
    default_port: ClassVar[int] = 8103

    scheduler_enabled: bool = Field(True, description="Finalize drafts after their grace period, flag overdue "
                                                      "invoices, in this process.")
    scheduler_interval_seconds: float = Field(10.0, gt=0, description="Seconds between scheduler passes.")
    prepaid_credits_resend_after_seconds: float = Field(
        60.0, gt=0, description="A pending invoice whose prepaid-credits request has had no answer for this long "
                                "is asked again (wallets answers a repeated request the same).")
