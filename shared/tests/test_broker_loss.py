"""Broker loss: the broker dies while a consumer lags behind and comes back empty (the embedded one
always does); the service notices, republishes what its outbox holds, its consumer reads the new log
from the start, and every event takes effect exactly once. /ready comes back without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import example_service as example
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from invora.app import ServiceDefinition, build_service_app
from invora.bus.consumer import ConsumerOptions, ConsumerSpec
from invora.events.envelope import EventEnvelope
from invora.infra.kafka import EmbeddedKafka
from invora.testing.services import RunningService

HANDLER_DELAY = 0.02  # the consumer is slower than the writers: it lags when the broker dies


async def count_effect(session: AsyncSession, event: EventEnvelope) -> None:
    """The effect: one row per handling (no unique key), so a second handling would show as a count of 2."""
    await asyncio.sleep(HANDLER_DELAY)
    await session.execute(text("INSERT INTO widget_effects (event_id, widget_id) VALUES (:e, :w)"),
                          {"e": event.id, "w": event.aggregate_id})


COUNTER = ConsumerSpec(name="widget-effects", topics=("invora.widget",), handler=count_effect)


@contextlib.asynccontextmanager
async def _service(database_url: str, kafka: str, keys, consumers: tuple[ConsumerSpec, ...] = (COUNTER,),
                   ) -> AsyncIterator[RunningService]:
    settings = example.ExampleSettings(
        database_url=database_url, kafka_bootstrap_servers=kafka, auth_public_keys=[str(keys.public_path)],
        log_level="WARNING", relay_poll_interval_seconds=0.2, gc_freeze=False,
    )
    app = build_service_app(ServiceDefinition(
        name="example", title="Example", description="broker loss", routers=[example.router],
        consumers=list(consumers),
        consumer_options=ConsumerOptions(session_timeout_ms=2_000, heartbeat_interval_ms=500),
    ), settings)
    async with app.router.lifespan_context(app):
        running = RunningService("example", app, keys, database_url)
        try:
            yield running
        finally:
            await running.aclose()


async def _wait(predicate, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.2)


@pytest.fixture
async def database(create_database) -> str:
    url = create_database("brokerloss")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(example.Base.metadata.create_all)  # tests only: services use Alembic
        await conn.execute(text("CREATE TABLE widget_effects (event_id uuid NOT NULL, widget_id text NOT NULL)"))
    await engine.dispose()
    return url


async def test_broker_restarted_empty_while_a_consumer_lags_every_event_takes_effect_once(
    database, invora_keys, tmp_path,
):
    broker = EmbeddedKafka(log_file=tmp_path / "broker.log")
    broker.start()
    engine = create_async_engine(database)

    async def effects() -> dict[str, int]:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT widget_id, count(*) FROM widget_effects GROUP BY widget_id"))
            return {widget_id: count for widget_id, count in rows}

    try:
        async with _service(database, broker.bootstrap_servers, invora_keys) as service:
            client = service.client(uuid.uuid4())
            await _wait(lambda: _ready(client), 20, "/ready")

            async def create(count: int, prefix: str) -> list[str]:
                ids = []
                for i in range(count):
                    response = await client.post("/api/v1/widgets", json={"widget": {"code": f"{prefix}{i}",
                                                                                     "name": "w"}})
                    assert response.status_code == 200, response.text
                    ids.append(response.json()["widget"]["lago_id"])
                return ids

            before = await create(150, "a")
            # published (the outbox says so) but the slow consumer is well behind
            await _wait(lambda: _published(engine, 150), 20, "the relay to publish")
            await _wait(lambda: _some(effects, 1), 30, "the consumer to start")
            lag = 150 - sum((await effects()).values())
            first_cluster = broker.cluster_id

            broker.process.kill()  # SIGKILL: everything it held is gone
            broker.process.wait()
            during = await create(20, "b")  # writes still succeed, into the outbox
            await _wait(lambda: _not_ready(client), 10, "/ready to report the outage")

            broker.start()  # same port, empty, a new cluster
            assert broker.cluster_id != first_cluster
            after = await create(10, "c")
            expected = set(before + during + after)

            await _wait(lambda: _complete(effects, expected), 90, "every event to take effect")
            await asyncio.sleep(2)  # anything still in flight would show up as a second effect now
            final = await effects()
            assert set(final) == expected
            assert {w: n for w, n in final.items() if n != 1} == {}, "an event took effect twice"
            assert lag > 0, "the consumer was not lagging when the broker died: the test proved nothing"
            await _wait(lambda: _ready(client), 20, "/ready after the broker came back")
            assert service.app.state.broker.epoch == 1
    finally:
        await engine.dispose()
        broker.stop()


async def test_a_service_started_after_the_broker_was_replaced_while_it_was_down_republishes_its_outbox(
    database, invora_keys, tmp_path,
):
    """The service is down while the broker is replaced: once back, its relay has no earlier look at the broker
    of its own, but the cluster recorded in its database is not the one it finds, so it republishes."""
    broker = EmbeddedKafka(log_file=tmp_path / "broker.log")
    broker.start()
    engine = create_async_engine(database)

    async def effects() -> dict[str, int]:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT widget_id, count(*) FROM widget_effects GROUP BY widget_id"))
            return {widget_id: count for widget_id, count in rows}

    async def recorded_cluster() -> str | None:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT cluster_id FROM outbox_broker"))).scalar_one_or_none()

    try:
        org = uuid.uuid4()
        async with _service(database, broker.bootstrap_servers, invora_keys, consumers=()) as service:
            client = service.client(org)
            await _wait(lambda: _ready(client), 20, "/ready")
            widgets = []
            for i in range(30):
                response = await client.post("/api/v1/widgets", json={"widget": {"code": f"w{i}", "name": "w"}})
                assert response.status_code == 200, response.text
                widgets.append(response.json()["widget"]["lago_id"])
            await _wait(lambda: _published(engine, 30), 20, "the relay to publish")  # to a broker nobody reads
            first_cluster = broker.cluster_id
            assert await recorded_cluster() == first_cluster

        broker.process.kill()  # while the service is down: its events go with the broker
        broker.process.wait()
        broker.start()
        assert broker.cluster_id != first_cluster

        async with _service(database, broker.bootstrap_servers, invora_keys) as service:
            await _wait(lambda: _complete(effects, set(widgets)), 60, "the events published before to take effect")
            await asyncio.sleep(1)
            assert {w: n for w, n in (await effects()).items() if n != 1} == {}, "an event took effect twice"
            assert await recorded_cluster() == broker.cluster_id
            assert service.app.state.broker.epoch == 0  # no replacement seen by this process: the record did it
    finally:
        await engine.dispose()
        broker.stop()


async def _ready(client) -> bool:
    return (await client.get("/ready")).status_code == 200


async def _not_ready(client) -> bool:
    return (await client.get("/ready")).status_code == 503


async def _published(engine, count: int) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM outbox_events WHERE published_at IS NOT NULL"))
                ).scalar_one() >= count


async def _some(effects, count: int) -> bool:
    return sum((await effects()).values()) >= count


async def _complete(effects, expected: set[str]) -> bool:
    return set(await effects()) >= expected


async def test_a_consumer_whose_start_fails_keeps_trying_until_the_broker_is_back(database, tmp_path):
    """The broker link connected, then the broker went before the consumer could join its group: the
    consumer retries (a fresh client each time) and consumes once the broker is back."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from invora.app import _start_in_background
    from invora.bus.connection import BrokerConnection
    from invora.bus.consumer import EventConsumer
    from invora.bus.producer import OutgoingMessage
    from invora.events.envelope import EventEnvelope as Envelope

    broker = EmbeddedKafka(log_file=tmp_path / "broker.log")
    broker.start()
    engine = create_async_engine(database)
    link = BrokerConnection(broker.bootstrap_servers, client_id="t", topics=["invora.widget"], partitions=1,
                            replication_factor=1)
    consumer = EventConsumer(COUNTER, service="example", bootstrap_servers=broker.bootstrap_servers,
                             sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
                             options=ConsumerOptions(session_timeout_ms=2_000, heartbeat_interval_ms=500))
    stop = None
    try:
        await link.start()
        assert link.connected
        broker.process.kill()
        broker.process.wait()
        stop = _start_in_background(link, consumer)
        await asyncio.sleep(3)  # a few failed starts
        broker.start()
        await _wait(lambda: _link_sees_new_cluster(link), 20, "the link to see the new broker")
        event = Envelope(type="widget.created", source="test", organization_id=uuid.uuid4(), aggregate_type="widget",
                         aggregate_id="w1", sequence=1, data={})
        await link.publish([OutgoingMessage(topic="invora.widget", key="w1", value=event.model_dump_json().encode(),
                                            event_type=event.type, event_id=str(event.id))])

        async def handled() -> bool:
            async with engine.connect() as conn:
                return (await conn.execute(text("SELECT count(*) FROM widget_effects"))).scalar_one() == 1

        await _wait(handled, 60, "the consumer to start and handle the event")
    finally:
        if stop is not None:
            await stop()
        await link.stop()
        await engine.dispose()
        broker.stop()


async def _link_sees_new_cluster(link) -> bool:
    return link.epoch >= 1


async def test_a_log_lost_under_the_same_cluster_id_and_topics_is_noticed_by_the_probe(tmp_path):
    """A broker that keeps its cluster id and topics but lost records (truncated, recreated): the last
    record published to a partition holds another event now. No false alarm while the log is intact."""
    from invora.bus.admin import ensure_topics
    from invora.bus.connection import BrokerConnection
    from invora.bus.producer import EventProducer, OutgoingMessage

    broker = EmbeddedKafka(log_file=tmp_path / "broker.log", cluster_id="steady-cluster")
    broker.start()
    link = BrokerConnection(broker.bootstrap_servers, client_id="t", topics=["invora.widget"], partitions=1,
                            replication_factor=1, watch_interval=3600, probe_interval=0)
    replaced: list[int] = []
    link.on_replaced(lambda: replaced.append(link.epoch))

    def messages(prefix: str, count: int) -> list[OutgoingMessage]:
        return [OutgoingMessage(topic="invora.widget", key="same", value=b"{}", event_type="widget.created",
                                event_id=f"{prefix}-{i}") for i in range(count)]

    try:
        await link.start()
        await link.publish(messages("ours", 3))
        await link.check()
        await link.check()
        assert (link.epoch, replaced) == (0, []), "the intact log was taken for a lost one"

        broker.process.kill()
        broker.process.wait()
        broker.start()  # same id, empty
        await ensure_topics(broker.bootstrap_servers, ["invora.widget"], partitions=1)  # topics back at once
        other = EventProducer(broker.bootstrap_servers, "someone-else")
        await other.start()
        try:
            await other.publish(messages("theirs", 5))  # offsets 0..4: another event where ours was
        finally:
            await other.stop()
        await _wait(lambda: _checked(link), 30, "the link to see the broker again")
        assert link.cluster_id == "steady-cluster"
        assert (link.epoch, replaced) == (1, [1])
    finally:
        await link.stop()
        broker.stop()


async def _checked(link) -> bool:
    try:
        await link.check()
    except Exception:  # noqa: BLE001 - the admin client is still reconnecting
        await link._close_admin()  # noqa: SLF001
        return False
    return True
