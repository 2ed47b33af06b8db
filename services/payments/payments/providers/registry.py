"""Adapters for provider connections: one per connection (and its credentials), kept while they hold."""

from __future__ import annotations

import asyncio
import contextlib
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
            stale = [k for k in self._cache if k[0] == key[0]]  # the same connection with older credentials
            if len(self._cache) > 1_000:
                stale = list(self._cache)
            for old in stale:
                self._close_later(self._cache.pop(old))
            self._cache[key] = adapter
        return adapter

    @staticmethod
    def _close_later(adapter: PaymentProviderAdapter) -> None:
        close = getattr(adapter, "aclose", None)
        if close is not None:
            with contextlib.suppress(RuntimeError):  # no running loop: nothing was opened in one either
                asyncio.get_running_loop().create_task(close())

    async def aclose(self) -> None:
        """Close every adapter's HTTP session (the service's shutdown)."""
        adapters, self._cache = list(self._cache.values()), {}
        for adapter in adapters:
            close = getattr(adapter, "aclose", None)
            if close is not None:
                await close()

    def _build(self, provider_type: str, secret_key: str, webhook_secret: str | None) -> PaymentProviderAdapter:
        if provider_type == "stripe":
            return StripeAdapter(secret_key=secret_key, webhook_secret=webhook_secret,
                                 api_base=self._settings.stripe_api_base,
                                 timeout_seconds=self._settings.provider_timeout_seconds)
        raise ValueError(f"no adapter for provider type {provider_type!r}")
