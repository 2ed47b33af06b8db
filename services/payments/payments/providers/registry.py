"""Adapters for provider connections: one per connection (and its credentials), kept while they hold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payments.providers.base import PaymentProviderAdapter
from payments.providers.stripe import StripeAdapter
from payments.settings import PaymentsSettings

PROVIDER_TYPES = ("stripe",)


class AdapterFactory:
    """`for_connection(row)`: the adapter for a `payment_providers` row (its decrypted credentials)."""

    def __init__(self, settings: PaymentsSettings) -> None:
        self._settings = settings
        self._cache: dict[tuple, PaymentProviderAdapter] = {}

    def for_connection(self, connection: Mapping[str, Any] | Any) -> PaymentProviderAdapter:
        get = connection.get if isinstance(connection, Mapping) else lambda k: getattr(connection, k)
        key = (get("id"), get("updated_at"))
        adapter = self._cache.get(key)
        if adapter is None:
            adapter = self._build(get("provider_type"), get("secret_key"), get("webhook_secret"))
            if len(self._cache) > 1_000:
                self._cache.clear()
            self._cache[key] = adapter
        return adapter

    def _build(self, provider_type: str, secret_key: str, webhook_secret: str | None) -> PaymentProviderAdapter:
        if provider_type == "stripe":
            return StripeAdapter(secret_key=secret_key, webhook_secret=webhook_secret,
                                 api_base=self._settings.stripe_api_base,
                                 timeout_seconds=self._settings.provider_timeout_seconds)
        raise ValueError(f"no adapter for provider type {provider_type!r}")
