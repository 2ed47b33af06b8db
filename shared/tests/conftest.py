"""Fixtures for the shared library's tests: the example service on a fresh database."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from invora.bus.admin import ensure_topics
from invora.events.topics import ALL_TOPICS
from invora.testing.services import RunningService

import example_service as example


@pytest.fixture
async def example_database(create_database) -> str:
    url = create_database("example")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(example.Base.metadata.create_all)  # tests only: services use Alembic
    await engine.dispose()
    return url


@pytest.fixture(scope="session")
async def example_topics(invora_kafka: str) -> None:
    await ensure_topics(invora_kafka, [*ALL_TOPICS, "invora.widget"], partitions=3)


@pytest.fixture
async def start_example(example_database: str, invora_kafka: str, invora_keys, example_topics):
    """Factory: `await start_example(relay_enabled=False, consumers=())` → RunningService."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(consumers=(example.WIDGET_ECHO,), database_url: str | None = None, **overrides):
            settings = example.ExampleSettings(
                database_url=database_url or example_database, kafka_bootstrap_servers=invora_kafka,
                auth_public_keys=[str(invora_keys.public_path)], log_level="WARNING",
                relay_poll_interval_seconds=0.2, **overrides,
            )
            app = example.create_app(settings, consumers)
            await stack.enter_async_context(app.router.lifespan_context(app))
            running = RunningService("example", app, invora_keys, settings.database_url)
            stack.push_async_callback(running.aclose)
            return running

        yield start
