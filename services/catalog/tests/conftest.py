"""Fixtures for the catalog service's tests (the invora pytest plugin provides the infrastructure).

One catalog per test module (`catalog`), on its own migrated database, with the outbox relay
running so events reach the broker. Tests isolate themselves by organization: every test gets a
fresh `org`, so they never see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from invora.testing.api import ApiClient
from invora.testing.services import RunningService, run_service

SERVICE = "catalog"


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE


@pytest.fixture(scope="module")
async def catalog(migrated_database, invora_kafka: str, invora_keys) -> AsyncIterator[RunningService]:
    url = migrated_database(SERVICE)
    async with run_service(SERVICE, database_url=url, kafka=invora_kafka, keys=invora_keys) as running:
        yield running


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


class CatalogApi(ApiClient):
    """A client for one organization plus builders of valid objects (each call: fresh codes)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self._n = 0

    def code(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}_{uuid.uuid4().hex[:6]}"

    async def metric(self, aggregation_type: str = "sum_agg", **fields) -> dict:
        body = {"name": "Metric", "code": self.code("metric"), "aggregation_type": aggregation_type,
                "field_name": None if aggregation_type == "count_agg" else "value", **fields}
        return (await self.ok("POST", "/api/v1/billable_metrics", {"billable_metric": body}))["billable_metric"]

    async def tax(self, rate: Any = "20", **fields) -> dict:
        body = {"name": "VAT", "code": self.code("vat"), "rate": rate, **fields}
        return (await self.ok("POST", "/api/v1/taxes", {"tax": body}))["tax"]

    async def add_on(self, currency: str = "EUR", **fields) -> dict:
        body = {"name": "Setup", "code": self.code("setup"), "amount_cents": 10_000, "amount_currency": currency,
                **fields}
        return (await self.ok("POST", "/api/v1/add_ons", {"add_on": body}))["add_on"]

    async def feature(self, **fields) -> dict:
        body = {"code": self.code("feature"), "name": "Seats", "privileges": [
            {"code": "max", "name": "Max", "value_type": "integer"},
            {"code": "sso", "value_type": "boolean"},
            {"code": "provider", "value_type": "select", "config": {"select_options": ["google", "okta"]}},
            {"code": "label"},
        ], **fields}
        return (await self.ok("POST", "/api/v1/features", {"feature": body}))["feature"]

    async def plan(self, charges: list[dict] | None = None, **fields) -> dict:
        body = {"name": "Startup", "code": self.code("plan"), "interval": "monthly", "amount_cents": 10_000,
                "amount_currency": "EUR", "pay_in_advance": True, "charges": charges or [], **fields}
        return (await self.ok("POST", "/api/v1/plans", {"plan": body}))["plan"]

    async def db_count(self, running: RunningService, table: str, organization_id: uuid.UUID) -> int:
        async with running.database.sessionmaker() as session:
            return (await session.execute(
                text(f"SELECT count(*) FROM {table} WHERE organization_id = :org"), {"org": organization_id}
            )).scalar_one()


def standard_charge(metric: dict, amount: str = "0.5", **fields) -> dict:
    return {"billable_metric_id": metric["lago_id"], "charge_model": "standard", "properties": {"amount": amount},
            **fields}


@pytest.fixture
def api(catalog: RunningService, org: uuid.UUID) -> CatalogApi:
    return CatalogApi(catalog.client(org, roles=["admin"]))


@pytest.fixture(scope="module")
def module_org() -> uuid.UUID:
    """One organization for a whole module (for fixtures worth building once)."""
    return uuid.uuid4()


@pytest.fixture(scope="module")
def module_api(catalog: RunningService, module_org: uuid.UUID) -> CatalogApi:
    return CatalogApi(catalog.client(module_org, roles=["admin"]))


@pytest.fixture
def charge_of():
    return standard_charge
