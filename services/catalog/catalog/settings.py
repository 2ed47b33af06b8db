"""Catalog settings: env vars prefixed `INVORA_CATALOG_`, falling back to `INVORA_`."""

from __future__ import annotations

from typing import ClassVar

from invora.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: ClassVar[str] = "catalog"
    default_port: ClassVar[int] = 8101
