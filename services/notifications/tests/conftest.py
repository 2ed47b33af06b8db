"""Fixtures for the notifications service's tests (the invora pytest plugin provides the infrastructure).

- `notifications`: one running service for the whole module (dev mode, short timeouts), on
  its own database and its own consumer group; tests isolate themselves by organization.
- `start_notifications(**overrides)`: a service of the test's own (other settings, restarts).
- `clock`: a ManualClock installed in the shared service for one test.
- `producer`: another service's outbox: events written in a committed transaction and
  relayed to Kafka, exactly as a real producing service does.
- `receivers(n)`: real local HTTP receivers recording what they get.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from invora.clock import ManualClock, SystemClock
from invora.db.engine import Database
from invora.testing.producer import Producer, running_producer
from invora.testing.receiver import WebhookReceiver
from invora.testing.services import RunningService, run_service
from notifications.runtime import wake_workers_at_commit

SERVICE = "notifications"

FAST = {
    "dev_mode": True,
    "delivery_timeout_seconds": 2.0,
    "worker_poll_interval_seconds": 0.05,
    "consumer_session_timeout_ms": 2000,
}


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE


def settings_for_test(**overrides) -> dict:
    return {**FAST, "consumer_name": f"fanout-{uuid.uuid4().hex[:8]}", **overrides}


@contextlib.asynccontextmanager
async def running_notifications(database_url: str, kafka: str, keys, **overrides) -> AsyncIterator[RunningService]:
    async with run_service(SERVICE, database_url=database_url, kafka=kafka, keys=keys,
                           **settings_for_test(**overrides)) as running:
        yield running


@pytest.fixture(scope="module")
async def notifications(migrated_database, invora_kafka, invora_keys) -> AsyncIterator[RunningService]:
    async with running_notifications(migrated_database(SERVICE), invora_kafka, invora_keys) as running:
        yield running


@pytest.fixture(scope="module")
async def module_notifications(migrated_database, invora_kafka, invora_keys):
    """Factory of services with other settings that live for the whole module."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides) -> RunningService:
            return await stack.enter_async_context(
                running_notifications(migrated_database(SERVICE), invora_kafka, invora_keys, **overrides)
            )

        yield start


@pytest.fixture
async def start_notifications(migrated_database, invora_kafka, invora_keys):
    """Factory: `await start_notifications(database_url=None, **settings)`; stopped after the test (or earlier
    with `await stop(running)`)."""
    async with contextlib.AsyncExitStack() as stack:
        stacks: dict[int, contextlib.AsyncExitStack] = {}

        async def start(database_url: str | None = None, **overrides) -> RunningService:
            own = contextlib.AsyncExitStack()
            await stack.enter_async_context(own)
            running = await own.enter_async_context(
                running_notifications(database_url or migrated_database(SERVICE), invora_kafka, invora_keys,
                                      **overrides)
            )
            stacks[id(running)] = own
            return running

        async def stop(running: RunningService) -> None:
            await stacks.pop(id(running)).aclose()

        start.stop = stop  # type: ignore[attr-defined]
        yield start


@pytest.fixture
def clock(notifications) -> AsyncIterator[ManualClock]:
    manual = ManualClock(datetime.now(UTC))
    runtime = notifications.app.state.runtime
    runtime.clock = manual
    yield manual
    runtime.clock = SystemClock()


# -- another service's outbox ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def producer(migrated_database, invora_kafka) -> AsyncIterator[Producer]:
    async with running_producer(migrated_database(SERVICE), invora_kafka) as running:
        yield running


# -- receivers and waiting -------------------------------------------------------------------------------


@pytest.fixture
async def receivers() -> AsyncIterator[Callable]:
    started: list[WebhookReceiver] = []

    async def make() -> WebhookReceiver:
        receiver = WebhookReceiver()
        await receiver.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        await receiver.stop()


async def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05, message: str = "condition"):
    """Poll an (async) predicate until it returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} not met after {timeout}s")
        await asyncio.sleep(interval)


async def add_due_deliveries(database: Database, organization_id: uuid.UUID, endpoint_id: uuid.UUID,
                             times: list[datetime], *, wake: bool = False) -> list[uuid.UUID]:
    """Pending deliveries due at `times`, of one message, as the fan-out writes them; with `wake`, the
    NOTIFY the fan-out sends at commit (the earliest due time)."""
    message_id, ids, first = uuid.uuid4(), [uuid.uuid4() for _ in times], min(times)
    async with database.sessionmaker() as session:
        await session.execute(text(
            "INSERT INTO webhook_messages (id, organization_id, event_id, event_type, object_type, aggregate_id, "
            "sequence, payload, occurred_at, created_at) VALUES (:id, :org, :event, 'invoice.created', 'invoice', "
            "'i1', 1, '{}', :t, :t)"), {"id": message_id, "org": organization_id, "event": uuid.uuid4(), "t": first})
        await session.execute(text(
            "INSERT INTO webhook_deliveries (id, organization_id, message_id, endpoint_id, event_type, status, "
            "attempt_count, next_attempt_at, created_at, updated_at) VALUES (:id, :org, :m, :e, 'invoice.created', "
            "'pending', 0, :at, :at, :at)"),
            [{"id": i, "org": organization_id, "m": message_id, "e": endpoint_id, "at": at}
             for i, at in zip(ids, times, strict=True)])
        if wake:
            await wake_workers_at_commit(session, first)
        await session.commit()
    return ids


async def fetch_all(database, sql: str, **params) -> list:
    async with database.sessionmaker() as session:
        return list((await session.execute(text(sql), params)).mappings().all())


async def create_endpoint(client, url: str, **fields) -> dict:
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {"webhook_url": url, **fields}})
    assert response.status_code == 200, response.text
    return response.json()["webhook_endpoint"]


async def delivery_of(client, endpoint_id: str, event_id: uuid.UUID | str, timeout: float = 15.0) -> dict:
    """The delivery of `event_id` to the endpoint, once the fan-out has created it."""

    async def find():
        response = await client.get("/api/v1/webhooks", params={"webhook_endpoint_id": endpoint_id, "per_page": 100})
        assert response.status_code == 200, response.text
        return next((w for w in response.json()["webhooks"] if w["event_id"] == str(event_id)), None)

    return await wait_until(find, timeout, message=f"delivery of {event_id}")


async def delivery_detail(client, delivery_id: str) -> dict:
    response = await client.get(f"/api/v1/webhooks/{delivery_id}")
    assert response.status_code == 200, response.text
    return response.json()["webhook"]


async def wait_for_delivery(client, delivery_id: str, predicate, timeout: float = 15.0) -> dict:
    async def check():
        detail = await delivery_detail(client, delivery_id)
        return detail if predicate(detail) else None

    return await wait_until(check, timeout, message=f"delivery {delivery_id} state")


def verify_request(request, *, secret: str, algo: str = "hmac", public_key: bytes | None = None,
                   issuer: str = "http://127.0.0.1:8106") -> dict:
    """Check a received request the way independent receivers do; returns the parsed body."""
    import hashlib
    import hmac

    import jwt
    import standardwebhooks
    import svix.webhooks

    body = request.body
    payload = standardwebhooks.Webhook(secret).verify(body, request.headers)
    svix.webhooks.Webhook(secret).verify(body, request.headers)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["x-lago-signature-algorithm"] == algo
    if algo == "hmac":
        expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        assert hmac.compare_digest(headers["x-lago-signature"], expected)
    else:
        assert public_key is not None
        claims = jwt.decode(headers["x-lago-signature"], public_key, algorithms=["RS256"], issuer=issuer)
        assert claims["data"] == body.decode()
    return payload


async def public_key_pem(client) -> bytes:
    response = await client.get("/api/v1/webhooks/json_public_key")
    assert response.status_code == 200, response.text
    return base64.b64decode(response.json()["webhook"]["public_key"])


@pytest.fixture(scope="session")
def kit():
    """The helpers above, for test modules (conftest is not importable under --import-mode=importlib)."""
    import types

    return types.SimpleNamespace(
        wait_until=wait_until, fetch_all=fetch_all, create_endpoint=create_endpoint, delivery_of=delivery_of,
        delivery_detail=delivery_detail, wait_for_delivery=wait_for_delivery, public_key_pem=public_key_pem,
        settings_for_test=settings_for_test, verify_request=verify_request, add_due_deliveries=add_due_deliveries,
    )
