"""Notifications settings: env vars prefixed `INVORA_NOTIFICATIONS_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from invora.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifications"
    default_port: ClassVar[int] = 8106
