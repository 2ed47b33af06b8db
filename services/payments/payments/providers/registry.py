"""Adapters for provider connections: one per connection (and its credentials), kept while they hold.

Builds the adapter of each provider type (`providers.base` names the types). A connection row carries its main
secret (`secret_key`: Stripe's and Paystack's secret key, Flutterwave's secret key...), its webhook secret, and
`settings`, the provider's non-secret fields (Adyen's merchant account...).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from payments.providers.adyen import AdyenAdapter
from payments.providers.base import PaymentProviderAdapter
from payments.providers.cashfree import CashfreeAdapter
from payments.providers.flutterwave import FlutterwaveAdapter
from payments.providers.gocardless import GoCardlessAdapter
from payments.providers.moneyhash import MoneyhashAdapter, fetch_signature_key
from payments.providers.paystack import PaystackAdapter
from payments.providers.stripe import StripeAdapter
from payments.providers.tap import TapAdapter
from payments.settings import PaymentsSettings


class AdapterFactory:
    """`for_connection(row)`: the adapter for a `payment_providers` row (its decrypted credentials)."""

    def __init__(self, settings: PaymentsSettings) -> None:
        self._settings = settings
        self._cache: dict[tuple, PaymentProviderAdapter] = {}

    def for_connection(self, connection: Mapping[str, Any] | Any) -> PaymentProviderAdapter:
        if isinstance(connection, Mapping):
            get = connection.get
        else:
            def get(key: str) -> Any:
                return getattr(connection, key, None)
        options = dict(get("settings") or {})
        key = (get("id"), get("updated_at"), tuple(sorted(options.items())))
        adapter = self._cache.get(key)
        if adapter is None:
            adapter = self._build(get("provider_type"), get("secret_key"), get("webhook_secret"), options)
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

    async def moneyhash_signature_key(self, api_key: str) -> str:
        """MoneyHash's webhook signature key for an API key (asked when a connection is made without one)."""
        return await fetch_signature_key(api_key=api_key, api_base=self._settings.moneyhash_api_base,
                                         timeout_seconds=self._settings.provider_timeout_seconds)

    def _build(self, provider_type: str, secret_key: str, webhook_secret: str | None,
               options: Mapping[str, Any]) -> PaymentProviderAdapter:
        timeout = self._settings.provider_timeout_seconds
        if provider_type == "stripe":
            return StripeAdapter(secret_key=secret_key, webhook_secret=webhook_secret,
                                 api_base=self._settings.stripe_api_base, timeout_seconds=timeout)
        if provider_type == "paystack":
            return PaystackAdapter(secret_key=secret_key, api_base=self._settings.paystack_api_base,
                                   timeout_seconds=timeout)
        if provider_type == "flutterwave":
            return FlutterwaveAdapter(secret_key=secret_key, webhook_secret=webhook_secret,
                                      api_base=self._settings.flutterwave_api_base, timeout_seconds=timeout)
        if provider_type == "adyen":
            return AdyenAdapter(api_key=secret_key, hmac_key=webhook_secret,
                                merchant_account=options.get("merchant_account") or "",
                                live_prefix=options.get("live_prefix"), api_base=self._settings.adyen_api_base,
                                timeout_seconds=timeout)
        if provider_type == "gocardless":
            return GoCardlessAdapter(access_token=secret_key, webhook_secret=webhook_secret,
                                     api_base=self._settings.gocardless_api_base, timeout_seconds=timeout)
        if provider_type == "cashfree":
            return CashfreeAdapter(client_id=options.get("client_id") or "", client_secret=secret_key,
                                   api_base=self._settings.cashfree_api_base, timeout_seconds=timeout)
        if provider_type == "tap":
            return TapAdapter(secret_key=secret_key, webhook_url=options.get("webhook_url"),
                              api_base=self._settings.tap_api_base, timeout_seconds=timeout)
        if provider_type == "moneyhash":
            return MoneyhashAdapter(api_key=secret_key, signature_key=webhook_secret, flow_id=options.get("flow_id"),
                                    webhook_url=options.get("webhook_url"), api_base=self._settings.moneyhash_api_base,
                                    timeout_seconds=timeout)
        raise ValueError(f"no adapter for provider type {provider_type!r}")
