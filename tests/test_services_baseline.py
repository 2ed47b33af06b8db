"""Every service: migrates up and down, starts, is healthy and ready, serves OpenAPI,
and its ORM models match its migrations exactly."""

from __future__ import annotations

import asyncio
import importlib
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from invora.db.migrate import SERVICES, downgrade, upgrade

PORTS = dict(zip(SERVICES, range(8101, 8107), strict=True))


@pytest.mark.parametrize("service", SERVICES)
async def test_service_starts_healthy_ready_with_openapi(service, start_service):
    running = await start_service(service)
    client = running.client()
    assert (await client.get("/health")).json() == {"status": "ok", "service": service}
    # ready once its consumers have joined their groups (a few seconds on the embedded broker)
    deadline = time.monotonic() + 30
    while (ready := await client.get("/ready")).status_code != 200 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert ready.status_code == 200, ready.text
    expected = {"database": "ok", "broker": "ok"} | ({"consumers": "ok"} if running.app.state.consumers else {})
    assert ready.json()["checks"] == expected
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"].lower().endswith(service)
    assert "/ready" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
    settings_module = importlib.import_module(f"{service}.settings")
    settings_cls = next(v for v in vars(settings_module).values()
                        if isinstance(v, type) and getattr(v, "service_name", None) == service)
    assert settings_cls.default_port == PORTS[service]


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_models_and_reverse(service, create_database):
    url = create_database(service)
    upgrade(service, url)
    importlib.import_module(f"{service}.models")
    metadata = importlib.import_module(f"{service}.db").Base.metadata
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
        assert diff == [], f"{service}: models and migrations differ: {diff}"
        downgrade(service, url, "base")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert tables <= {"alembic_version"}
        upgrade(service, url)  # and up again
    finally:
        await engine.dispose()
