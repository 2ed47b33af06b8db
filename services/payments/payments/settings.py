"""Payments settings: env vars prefixed `INVORA_PAYMENTS_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from invora.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service_name: ClassVar[str] = "payments"
    default_port: ClassVar[int] = 8104
