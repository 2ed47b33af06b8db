"""Fixtures for the wallets service's tests (the invora pytest plugin provides the infrastructure).

One wallets service per test module (`wallets`), on its own migrated database, with a manual clock;
tests isolate themselves by organization (a fresh `org` each). Customers reach the projection the
way the consumer puts them there (`customers.service.apply_event` with a `customer.created`
envelope); `test_customers_projection.py` drives the real subscriptions service through Kafka.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from invora.clock import ManualClock
from invora.events.envelope import EventEnvelope
from invora.testing.api import ApiClient
from invora.testing.producer import Producer, running_producer
from invora.testing.services import RunningService, run_service
from wallets.customers import service as customers

SERVICE = "wallets"
START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE


@pytest.fixture(scope="module")
async def wallets(request, migrated_database, invora_kafka: str, invora_keys) -> AsyncIterator[RunningService]:
    """Consumers run only in modules that set `CONSUMERS = True` (joining a group takes a second or two)."""
    url = migrated_database(SERVICE)
    consumers = getattr(request.module, "CONSUMERS", False)
    async with run_service(SERVICE, database_url=url, kafka=invora_kafka, keys=invora_keys,
                           scheduler_enabled=False, reconciliation_enabled=False, consumers_enabled=consumers,
                           consumer_session_timeout_ms=2_000) as running:
        running.app.state.runtime.clock = ManualClock(START)
        yield running


@pytest.fixture
def clock(wallets: RunningService) -> ManualClock:
    clock = wallets.app.state.runtime.clock
    clock.set(START)
    return clock


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


def customer_event(org: uuid.UUID, external_id: str, *, currency: str | None = "EUR", lago_id: uuid.UUID | None = None,
                   sequence: int = 1, type: str = "customer.created", deleted: bool = False) -> EventEnvelope:
    lago_id = lago_id or uuid.uuid4()
    now = datetime.now(UTC).isoformat()
    customer = {
        "lago_id": str(lago_id), "sequential_id": 1, "slug": "CUS-1", "external_id": external_id, "name": "Acme",
        "currency": currency, "applicable_timezone": "UTC", "account_type": "customer",
        "finalize_zero_amount_invoice": "inherit", "skip_invoice_custom_sections": False,
        "billing_configuration": {}, "shipping_address": {}, "created_at": now, "updated_at": now,
        "deleted_at": now if deleted else None,
    }
    return EventEnvelope(type=type, source="subscriptions", organization_id=org, aggregate_type="customer",
                         aggregate_id=str(lago_id), sequence=sequence, data={"customer": customer})


class Api(ApiClient):
    """A client for one organization (`invora.testing.api`) with builders of customers and wallets."""

    def __init__(self, client: httpx.AsyncClient, service: RunningService, org: uuid.UUID) -> None:
        super().__init__(client)
        self.service = service
        self.org = org

    async def customer(self, external_id: str | None = None, currency: str | None = "EUR") -> str:
        external_id = external_id or f"cus_{uuid.uuid4().hex[:8]}"
        async with self.service.database.sessionmaker() as session:
            await customers.apply_event(session, customer_event(self.org, external_id, currency=currency))
            await session.commit()
        return external_id

    async def wallet(self, external_customer_id: str, **fields) -> dict:
        body = {"external_customer_id": external_customer_id, "currency": "EUR", "rate_amount": "1", **fields}
        return (await self.ok("POST", "/api/v1/wallets", {"wallet": body}))["wallet"]

    async def top_up(self, wallet_id: str, **fields) -> list[dict]:
        body = {"wallet_id": wallet_id, **fields}
        return (await self.ok("POST", "/api/v1/wallet_transactions", {"wallet_transaction": body}))[
            "wallet_transactions"]

    async def get_wallet(self, wallet_id: str) -> dict:
        return (await self.ok("GET", f"/api/v1/wallets/{wallet_id}"))["wallet"]


@pytest.fixture
def make_api(wallets: RunningService, clock):
    def make(organization_id: uuid.UUID, roles=("admin",), **kwargs) -> Api:
        return Api(wallets.client(organization_id, roles=list(roles), **kwargs), wallets, organization_id)

    return make


@pytest.fixture
def api(make_api, org: uuid.UUID) -> Api:
    return make_api(org)


# -- another service's outbox (invoicing, subscriptions) ------------------------------------------------------

@pytest.fixture(scope="module")
async def producer(migrated_database, invora_kafka) -> AsyncIterator[Producer]:
    async with running_producer(migrated_database(SERVICE), invora_kafka) as running:
        yield running


@pytest.fixture
def make_customer_event():
    """`make_customer_event(org, external_id, sequence=..., type=...)`: a subscriptions `customer.*` envelope."""
    return customer_event
