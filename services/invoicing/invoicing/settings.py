"""Invoicing settings: env vars prefixed `INVORA_INVOICING_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from invora.settings import ServiceSettings


class InvoicingSettings(ServiceSettings):
    service_name: ClassVar[str] = "invoicing"
    default_port: ClassVar[int] = 8103

    scheduler_enabled: bool = True
    scheduler_interval_seconds: float = 10.0
    consumer_session_timeout_ms: int = 10_000
