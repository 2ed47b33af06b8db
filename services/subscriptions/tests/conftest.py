"""Fixtures for the subscriptions service's tests (the invora pytest plugin provides the infrastructure).

One subscriptions service per test module (`subs`), on its own migrated database, with a manual
clock in its runtime (`app.state.runtime.clock`); tests isolate themselves by organization (a fresh `org` each).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from invora.clock import ManualClock
from invora.testing.api import ApiClient
from invora.testing.services import RunningService, run_service
from subscriptions.plans.client import CatalogClient

SERVICE = "subscriptions"
START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE


@pytest.fixture(scope="module")
async def subs(request, migrated_database, invora_kafka: str, invora_keys) -> AsyncIterator[RunningService]:
    """Consumers run only in modules that set `CONSUMERS = True` (joining a group takes a second or two)."""
    url = migrated_database(SERVICE)
    consumers = getattr(request.module, "CONSUMERS", False)
    async with run_service(SERVICE, database_url=url, kafka=invora_kafka, keys=invora_keys,
                           scheduler_enabled=False, consumers_enabled=consumers,
                           consumer_session_timeout_ms=2_000) as running:
        running.app.state.runtime.clock = ManualClock(START)
        yield running


@pytest.fixture(scope="module")
async def catalog(subs: RunningService, migrated_database, invora_kafka: str, invora_keys) -> AsyncIterator[
        RunningService]:
    """The real catalog, in-process; the subscriptions service reaches it through an ASGI transport."""
    url = migrated_database("catalog")
    async with run_service("catalog", database_url=url, kafka=invora_kafka, keys=invora_keys) as running:
        settings = subs.app.state.settings.model_copy(update={
            "service_signing_key": invora_keys.private_pem.decode(), "catalog_url": "http://catalog.test"})
        runtime = subs.app.state.runtime
        previous = runtime.catalog
        runtime.catalog = CatalogClient(settings, transport=httpx.ASGITransport(app=running.app))
        try:
            yield running
        finally:
            await runtime.catalog.aclose()
            runtime.catalog = previous


@pytest.fixture
def clock(subs: RunningService) -> ManualClock:
    subs.app.state.runtime.clock.set(START)
    return subs.app.state.runtime.clock


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


class Api(ApiClient):
    """A client for one organization (`invora.testing.api`) with builders of customers."""

    async def customer(self, external_id: str | None = None, **fields) -> dict:
        body = {"external_id": external_id or f"cus_{uuid.uuid4().hex[:8]}", "name": "Acme", "currency": "EUR",
                **fields}
        return (await self.ok("POST", "/api/v1/customers", {"customer": body}))["customer"]


@pytest.fixture
def make_api(subs: RunningService, clock):
    """`make_api(org, roles=[...], customer_id=...)`: an Api for any organization and key."""

    def make(organization_id: uuid.UUID | None = None, roles=("admin",), **kwargs) -> Api:
        return Api(subs.client(organization_id, roles=list(roles), **kwargs))

    return make


@pytest.fixture
def api(make_api, org: uuid.UUID) -> Api:
    return make_api(org)


class Plans:
    """Builds plans (and features, entitlements) in the catalog for one organization."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.api = Api(client)

    async def plan(self, code: str | None = None, amount_cents: int = 10_000, interval: str = "monthly",
                   currency: str = "EUR", **fields) -> dict:
        body = {"name": "Plan", "code": code or f"plan_{uuid.uuid4().hex[:8]}", "interval": interval,
                "amount_cents": amount_cents, "amount_currency": currency, "pay_in_advance": False, **fields}
        return (await self.api.ok("POST", "/api/v1/plans", {"plan": body}))["plan"]

    async def feature(self, code: str, privileges: list[dict] | None = None) -> dict:
        body = {"code": code, "name": code, "privileges": privileges if privileges is not None else [
            {"code": "max", "value_type": "integer"}, {"code": "sso", "value_type": "boolean"}]}
        return (await self.api.ok("POST", "/api/v1/features", {"feature": body}))["feature"]

    async def entitle(self, plan_code: str, entitlements: dict) -> dict:
        return await self.api.ok("POST", f"/api/v1/plans/{plan_code}/entitlements", {"entitlements": entitlements})


@pytest.fixture
def plans(catalog: RunningService, org: uuid.UUID) -> Plans:
    return Plans(catalog.client(org, roles=["admin"]))
