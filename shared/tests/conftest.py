"""Fixtures for the shared library's tests: the example service on a fresh database, and what the consumer
tests share."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import example_service as example
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from invora.bus.admin import ensure_topics
from invora.db.engine import Database
from invora.events.topics import ALL_TOPICS
from invora.testing.services import RunningService


async def _example_database(create_database) -> str:
    url = create_database("example")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(example.Base.metadata.create_all)  # tests only: services use Alembic
    await engine.dispose()
    return url


@contextlib.asynccontextmanager
async def _run_example(
    database_url: str, kafka: str, keys, consumers=(example.WIDGET_ECHO,), **overrides
) -> AsyncIterator[RunningService]:
    options = {
        "kafka_bootstrap_servers": kafka, "auth_public_keys": [str(keys.public_path)],
        "log_level": "WARNING", "relay_poll_interval_seconds": 0.2,
        # off as in the services' harness (invora.testing.services): these tests count outbox rows; the API
        # log has tests of its own
        "api_log_enabled": False, **overrides,
    }
    settings = example.ExampleSettings(database_url=database_url, **options)
    app = example.create_app(settings, consumers)
    async with app.router.lifespan_context(app):
        running = RunningService("example", app, keys, settings.database_url)
        try:
            yield running
        finally:
            await running.aclose()


@pytest.fixture
async def example_database(create_database) -> str:
    return await _example_database(create_database)


@pytest.fixture(scope="session")
async def example_topics(invora_kafka: str) -> None:
    await ensure_topics(invora_kafka, [*ALL_TOPICS, "invora.widget"], partitions=3)


@pytest.fixture
async def start_example(example_database: str, invora_kafka: str, invora_keys, example_topics):
    """Factory: `await start_example(relay_enabled=False, consumers=())` → RunningService."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(consumers=(example.WIDGET_ECHO,), database_url: str | None = None, **overrides):
            return await stack.enter_async_context(
                _run_example(database_url or example_database, invora_kafka, invora_keys, consumers, **overrides)
            )

        yield start


@pytest.fixture(scope="module")
async def shared_example(create_database, invora_kafka: str, invora_keys, example_topics):
    """One example service (no relay, no consumers) for a whole test module, on its own database.

    Tests using it isolate themselves by organization (a fresh one each), or compare row
    counts before and after rather than assume an empty database.
    """
    url = await _example_database(create_database)
    async with _run_example(url, invora_kafka, invora_keys, consumers=(), relay_enabled=False) as running:
        yield running


@pytest.fixture
async def effects_database(example_database: str):
    """Consumer tests: a migrated database with a `test_effects` table handlers write their effect to."""
    db = Database(example_database)
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE test_effects (seq bigserial PRIMARY KEY, event_id uuid NOT NULL)"))
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def kafka_producer(invora_kafka: str):
    """A plain Kafka producer, for messages no outbox would write (duplicates, malformed ones)."""
    producer = AIOKafkaProducer(bootstrap_servers=invora_kafka, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()
