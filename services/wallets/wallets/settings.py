"""Wallets settings: env vars prefixed `INVORA_WALLETS_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from invora.settings import ServiceSettings


class WalletsSettings(ServiceSettings):
    service_name: ClassVar[str] = "wallets"
    default_port: ClassVar[int] = 8105
