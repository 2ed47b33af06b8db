"""What the suite-level end-to-end tests share: several real services on one broker, the subscriptions service
reading the in-process catalog, a request helper and a poll.

    async with start_suite({"catalog": {}, "subscriptions": {"scheduler_enabled": False}}, clock=clock) as suite:
        cat, sub_api = suite.api("catalog"), suite.api("subscriptions")

`start_suite` is the fixture of `tests/conftest.py` (`running_suite` bound to the test's databases, broker and
keys); services start in the order given and stop in reverse when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from invora.clock import ManualClock
from invora.db.migrate import SERVICES
from invora.gateway.caddy import caddy_config
from invora.gateway.process import run_caddy
from invora.gateway.routes import table_from_urls
from invora.infra.ports import free_port
from invora.testing.infrastructure import KeyPair
from invora.testing.services import RunningService, run_service
from subscriptions.plans.client import CatalogClient

# catalog → subscriptions → invoicing ⇄ wallets, consumers joining fast, background passes run by the test
INVOICING_WITH_WALLETS: dict[str, dict[str, Any]] = {
    "catalog": {"consumer_session_timeout_ms": 2_000},
    "subscriptions": {"consumer_session_timeout_ms": 2_000, "scheduler_enabled": False},
    "invoicing": {"consumer_session_timeout_ms": 2_000, "scheduler_enabled": False},
    "wallets": {"consumer_session_timeout_ms": 2_000, "scheduler_enabled": False},
}


async def ok(client: httpx.AsyncClient, method: str, url: str, body: Any = None, status: int = 200,
             **kwargs: Any) -> Any:
    """The JSON answer of a request that must answer `status` (200)."""
    response = await client.request(method, url, json=body, **kwargs)
    assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
    return response.json()


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 60.0,
                     interval: float = 0.25) -> Any:
    """The first truthy answer of `probe`, asked every `interval` seconds; fails when none came within `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := await probe()):
        assert asyncio.get_running_loop().time() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(interval)
    return found


@dataclass
class Suite:
    """The running services of one test and the organization it works in."""

    org: uuid.UUID
    running: dict[str, RunningService]
    clock: ManualClock | None = None
    _clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def __getitem__(self, name: str) -> RunningService:
        return self.running[name]

    def api(self, name: str) -> httpx.AsyncClient:
        """An admin client of the service for the suite's organization."""
        if name not in self._clients:
            self._clients[name] = self.running[name].client(self.org)
        return self._clients[name]

    async def customer(self, external_id: str, **fields: Any) -> dict[str, Any]:
        """Create a customer (EUR unless told) through the subscriptions service."""
        body = {"external_id": external_id, "name": fields.pop("name", "Acme"), "currency": "EUR", **fields}
        return (await ok(self.api("subscriptions"), "POST", "/api/v1/customers", {"customer": body}))["customer"]

    async def subscribe(self, external_customer_id: str, plan_code: str, external_id: str,
                        **fields: Any) -> dict[str, Any]:
        """Create (or change the plan of) a subscription through the subscriptions service."""
        body = {"external_customer_id": external_customer_id, "plan_code": plan_code, "external_id": external_id,
                **fields}
        return (await ok(self.api("subscriptions"), "POST", "/api/v1/subscriptions",
                         {"subscription": body}))["subscription"]


@contextlib.asynccontextmanager
async def running_suite(migrated_database: Callable[[str], str], kafka: str, keys: KeyPair,
                        services: dict[str, dict[str, Any]], *, clock: ManualClock | None = None,
                        org: uuid.UUID | None = None) -> AsyncIterator[Suite]:
    """The services named (each with its settings overrides), each on its own migrated database and the
    test's broker. With both catalog and subscriptions, subscriptions asks the in-process catalog (an ASGI
    transport) for plans; a `clock` becomes the subscriptions service's. What it changed is put back, then the
    services stop in reverse order."""
    async with contextlib.AsyncExitStack() as stack:
        running: dict[str, RunningService] = {}
        for name, options in services.items():
            running[name] = await stack.enter_async_context(run_service(
                name, database_url=migrated_database(name), kafka=kafka, keys=keys, **options))
        if "subscriptions" in running:
            subs = running["subscriptions"]
            runtime = subs.app.state.runtime
            if clock is not None:
                runtime.clock = clock
            if "catalog" in running:
                settings = subs.app.state.settings.model_copy(update={
                    "service_signing_key": keys.private_pem.decode(), "catalog_url": "http://catalog.test"})
                previous, runtime.catalog = runtime.catalog, CatalogClient(
                    settings, transport=httpx.ASGITransport(app=running["catalog"].app))

                async def put_back() -> None:
                    await runtime.catalog.aclose()
                    runtime.catalog = previous

                stack.push_async_callback(put_back)
        yield Suite(org=org or uuid.uuid4(), running=running, clock=clock)


@contextlib.contextmanager
def gateway_over(live_service: Callable[..., str], keys: KeyPair, folder: Path,
                 **overrides: dict[str, Any]) -> Iterator[str]:
    """The six services over real HTTP (`live_service`), each with its `overrides`, behind the gateway (real
    Caddy, routes from their OpenAPI documents): yields the one origin. The services reach each other as `make run`
    wires them (their URLs and the suite's signing key); notifications allows loopback receivers and signs `jwt`
    webhooks with the origin as issuer."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    urls = {"catalog": live_service("catalog", **overrides.get("catalog", {}))}
    urls["subscriptions"] = live_service("subscriptions", **{
        "catalog_url": urls["catalog"], "scheduler_enabled": False,
        "service_signing_key": keys.private_pem.decode(), **overrides.get("subscriptions", {})})
    signing = {"service_signing_key": keys.private_pem.decode()}
    urls["wallets"] = live_service("wallets", **{"subscriptions_url": urls["subscriptions"], **signing,
                                                 **overrides.get("wallets", {})})
    urls["invoicing"] = live_service("invoicing", **{
        "subscriptions_url": urls["subscriptions"], "catalog_url": urls["catalog"], "wallets_url": urls["wallets"],
        **signing, **overrides.get("invoicing", {})})
    urls["payments"] = live_service("payments", **overrides.get("payments", {}))
    urls["notifications"] = live_service("notifications", **{
        "dev_mode": True, "webhook_jwt_issuer": origin, **overrides.get("notifications", {})})
    ordered = {service: urls[service] for service in SERVICES}
    upstreams = {service: url.removeprefix("http://") for service, url in ordered.items()}
    with run_caddy(caddy_config(table_from_urls(ordered), upstreams, f"127.0.0.1:{port}"), folder, origin):
        yield origin
