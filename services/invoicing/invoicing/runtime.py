"""What the invoicing service's routes, consumers and loops share (`app.state.runtime`): settings, the clock,
and the HTTP clients of the services it reads fresh answers from (tests swap their transports)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from invoicing.settings import InvoicingSettings
from invora.runtime import ServiceRuntime
from invora.service_client import ServiceClient


def _client(settings: InvoicingSettings, url: str) -> ServiceClient:
    return ServiceClient(base_url=url, subject="service:invoicing", issuer=settings.auth_issuer,
                         signing_key=settings.service_signing_key, api_key=settings.service_api_key,
                         timeout=settings.service_timeout_seconds, retries=settings.service_retries)


@dataclass
class InvoicingRuntime(ServiceRuntime):
    settings: InvoicingSettings
    subscriptions: ServiceClient = field(init=False)
    wallets: ServiceClient = field(init=False)
    catalog: ServiceClient = field(init=False)

    def __post_init__(self) -> None:
        self.subscriptions = _client(self.settings, self.settings.subscriptions_url)
        self.wallets = _client(self.settings, self.settings.wallets_url)
        self.catalog = _client(self.settings, self.settings.catalog_url)

    async def aclose(self) -> None:
        for client in (self.subscriptions, self.wallets, self.catalog):
            await client.aclose()


def get_runtime(request: Request) -> InvoicingRuntime:
    return request.app.state.runtime
