"""Subscriptions settings: env vars prefixed `INVORA_SUBSCRIPTIONS_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from invora.settings import ServiceSettings


class SubscriptionsSettings(ServiceSettings):
    service_name: ClassVar[str] = "subscriptions"
    default_port: ClassVar[int] = 8102
