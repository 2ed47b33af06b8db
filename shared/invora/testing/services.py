"""Run a service app in-process (lifespan and all) and talk to it with signed keys."""

from __future__ import annotations

import contextlib
import importlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from invora.testing.infrastructure import TEST_SECRETS_KEY, KeyPair


class RunningService:
    def __init__(self, name: str, app: FastAPI, keys: KeyPair, database_url: str) -> None:
        self.name = name
        self.app = app
        self.keys = keys
        self.database_url = database_url
        self._clients: list[httpx.AsyncClient] = []

    @property
    def database(self):
        return self.app.state.database

    def client(
        self,
        organization_id: uuid.UUID | str | None = None,
        roles: list[str] | tuple[str, ...] = ("admin",),
        *,
        customer_id: uuid.UUID | str | None = None,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.AsyncClient:
        """An httpx client bound to the app; signs a key for the organization and roles unless one is given."""
        all_headers = dict(headers or {})
        if api_key is None and organization_id is not None:
            api_key = self.keys.sign(organization_id, roles, customer_id=customer_id)
        if api_key is not None:
            all_headers["Authorization"] = f"Bearer {api_key}"
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=f"http://{self.name}.test", headers=all_headers,
        )
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


UNREACHABLE_API_BASE = "http://127.0.0.1:9"  # the discard port: nothing listens there in tests


def _settings_class(service: str):
    module = importlib.import_module(f"{service}.settings")
    return next(
        obj for obj in vars(module).values()
        if isinstance(obj, type) and getattr(obj, "service_name", None) == service
    )


def service_settings(service: str, *, database_url: str, kafka: str, keys: KeyPair, **overrides):
    """The service's settings class filled in for tests; `overrides` win. Tests reach no real provider: every
    `*_api_base` a test does not set points at a closed loopback port (a call there is refused at once)."""
    settings_class = _settings_class(service)
    values = {
        **{name: UNREACHABLE_API_BASE for name in settings_class.model_fields if name.endswith("_api_base")},
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka,
        "auth_public_keys": [str(keys.public_path)],
        "log_json": True,
        "log_level": "WARNING",
        "relay_poll_interval_seconds": 0.2,
        "gc_freeze": False,
        # an outbox row per mutating request would change what other tests count in the outbox; the API log's
        # own tests turn it on (docs/activity-logs.md)
        "api_log_enabled": False,
        "secrets_key": TEST_SECRETS_KEY,  # many apps come and go in one test process: let the collector free them
        **overrides,
    }
    return settings_class(**values)


@contextlib.asynccontextmanager
async def run_service(
    service: str, *, database_url: str, kafka: str, keys: KeyPair, **overrides
) -> AsyncIterator[RunningService]:
    settings = service_settings(service, database_url=database_url, kafka=kafka, keys=keys, **overrides)
    app = importlib.import_module(f"{service}.app").create_app(settings)
    async with app.router.lifespan_context(app):
        running = RunningService(service, app, keys, database_url)
        try:
            yield running
        finally:
            await running.aclose()


@pytest.fixture
async def start_service(migrated_database, invora_kafka: str, invora_keys: KeyPair):
    """Factory: `await start_service("catalog", relay_enabled=False)` → RunningService, stopped after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(service: str, *, database_url: str | None = None, **overrides) -> RunningService:
            url = database_url or migrated_database(service)
            return await stack.enter_async_context(
                run_service(service, database_url=url, kafka=invora_kafka, keys=invora_keys, **overrides)
            )

        yield start
