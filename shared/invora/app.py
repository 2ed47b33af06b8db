"""`build_service_app`: the one call that makes a FastAPI app an Invora service.

It wires settings, logging, the database, errors, request ids, metrics, idempotency,
auth, health/ready/metrics, the Kafka link, the outbox relay and the service's
consumers, and starts/stops them with the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI

from invora import secrets
from invora.auth.verify import TokenVerifier
from invora.bus.connection import BrokerConnection
from invora.bus.consumer import ConsumerOptions, ConsumerSpec, EventConsumer
from invora.context import service_name_var
from invora.db.engine import Database
from invora.events.topics import ALL_TOPICS
from invora.logging import configure_logging, get_logger
from invora.outbox.relay import OutboxRelay
from invora.runtime import ServiceRuntime
from invora.secrets import column as secret_columns
from invora.settings import ServiceSettings
from invora.web import health
from invora.web.api_log import ApiLogMiddleware
from invora.web.body_limit import BodyLimitMiddleware
from invora.web.error_handlers import install_error_handlers
from invora.web.idempotency import IdempotencyMiddleware
from invora.web.openapi import install_openapi
from invora.web.request_context import RequestContextMiddleware
from invora.web.strict_requests import install_strict_requests

log = get_logger(__name__)

BackgroundTask = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]


@dataclass
class ServiceDefinition:
    name: str
    title: str
    description: str
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[ConsumerSpec] = ()
    # extra lifespan pieces (schedulers, workers): each an async context manager factory
    background: Sequence[BackgroundTask] = ()
    # None: from the settings (`ConsumerOptions.from_settings`)
    consumer_options: ConsumerOptions | None = None
    openapi_tags: list[dict] | None = None
    # request paths taking bodies larger than the `max_body_bytes` setting (the event batch), in bytes
    body_limits: Mapping[str, int] = field(default_factory=dict)


def build_service_app(
    definition: ServiceDefinition, settings: ServiceSettings, runtime: ServiceRuntime | None = None,
) -> FastAPI:
    """`runtime`: the service's own `ServiceRuntime` subclass, when it has more than settings and a clock."""
    service_name_var.set(definition.name)
    consumer_options = definition.consumer_options or ConsumerOptions.from_settings(settings)
    configure_logging(settings.log_level, settings.log_json)
    if (ring := settings.secrets_keyring) is not None:
        secrets.configure(ring)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service_name_var.set(definition.name)
        if secret_columns.DECLARED:
            # this service stores secrets encrypted: without a key ring its first such request would fail
            secrets.keyring()  # raises SecretsKeyMissing, naming INVORA_SECRETS_KEY
        async with contextlib.AsyncExitStack() as stack:
            database = Database(settings.database_url, settings.database_pool_size, settings.database_options)
            stack.push_async_callback(database.dispose)
            app.state.database = database

            broker = BrokerConnection(
                settings.kafka, client_id=definition.name,
                # every suite topic, and any other topic a consumer of this service reads
                topics=list(dict.fromkeys([*ALL_TOPICS, *(t for spec in definition.consumers for t in spec.topics)])),
                partitions=settings.kafka_topic_partitions, replication_factor=settings.kafka_replication_factor,
            )
            app.state.broker = broker
            await broker.start()
            stack.push_async_callback(broker.stop)

            if settings.relay_enabled:
                relay = OutboxRelay(
                    database.asyncpg_dsn, broker, service=definition.name,
                    batch_size=settings.relay_batch_size, poll_interval=settings.relay_poll_interval_seconds,
                    retention_seconds=settings.outbox_retention_hours * 3600,
                    inbox_retention_seconds=settings.inbox_retention_hours * 3600,
                )
                await relay.start()
                stack.push_async_callback(relay.stop)
                app.state.relay = relay

            app.state.consumers = []
            if settings.consumers_enabled:
                for spec in definition.consumers:
                    consumer = EventConsumer(
                        spec, service=definition.name, bootstrap_servers=settings.kafka,
                        sessionmaker=database.sessionmaker, options=consumer_options,
                    )
                    broker.on_replaced(consumer.rewind)
                    app.state.consumers.append(consumer)
                    stack.push_async_callback(_start_in_background(broker, consumer))

            for background in definition.background:
                await stack.enter_async_context(background(app))
            if settings.gc_freeze:
                # what start-up built lives as long as the process: keep it out of the cyclic
                # collector's full passes, which otherwise walk it all and stall requests
                gc.collect()
                gc.freeze()
            log.info("service_started", port=settings.listen_port)
            yield
        log.info("service_stopped")

    app = FastAPI(
        title=definition.title, description=definition.description, version="0.1.0",
        lifespan=lifespan, openapi_tags=definition.openapi_tags,
    )
    app.state.service_name = definition.name
    app.state.settings = settings
    app.state.runtime = runtime or ServiceRuntime(settings=settings)
    app.state.verifier = TokenVerifier.from_settings(
        settings.auth_public_keys, settings.auth_issuer, settings.auth_cache_seconds, settings.auth_leeway_seconds
    )
    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware, ttl_hours=settings.idempotency_ttl_hours)
    # outside the idempotency middleware, which reads the body first
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes, limits=definition.body_limits)
    if settings.api_log_enabled:
        # inside the request context (it reads the request id), outside everything that reads the body
        app.add_middleware(ApiLogMiddleware, service=definition.name)
    app.add_middleware(RequestContextMiddleware, service=definition.name)
    app.include_router(health.router)
    for router in definition.routers:
        app.include_router(router)
    install_strict_requests(app)
    install_openapi(app, settings.max_body_bytes, dict(definition.body_limits))
    return app


def _start_in_background(broker: BrokerConnection, consumer: EventConsumer) -> Callable[[], Awaitable[None]]:
    """Start a consumer without holding up start-up; return the coroutine function that stops it.

    A consumer needs the broker (and the topics the broker link creates), and joining its group
    can take seconds (half the session timeout on some brokers): the service answers meanwhile,
    and the consumer reads from its committed offsets (or the earliest) once it has joined.
    """

    async def start() -> None:
        await broker.wait_connected()
        delay = 0.5
        while True:  # the broker may have gone again since: keep trying, or the consumer never runs
            try:
                await consumer.start()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("consumer_start_failed", consumer=consumer.group_id, error=repr(exc), retry_in=delay)
                await consumer.reset_client()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    task = asyncio.create_task(start(), name=f"start-{consumer.group_id}")

    async def stop() -> None:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await consumer.stop()

    return stop
