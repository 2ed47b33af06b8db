"""Outbox relay: every committed row reaches Kafka at least once, whatever the timing.

Real embedded PostgreSQL and Tansu broker; relays are driven either step by step with
`publish_pending()` or running in the background as services run them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy import text

from invora.bus.admin import ensure_topics
from invora.bus.producer import EventProducer, OutgoingMessage
from invora.db.engine import Database
from invora.outbox import add_event
from invora.outbox.relay import OutboxRelay


class TopicReader:
    """Reads one topic from the start (manual assignment, no group) and keeps every record."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self.records: list[ConsumerRecord] = []
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                                          group_id=None)

    async def start(self) -> None:
        await self._consumer.start()
        partitions: set[int] = set()
        deadline = time.monotonic() + 10
        while not partitions:
            partitions = self._consumer.partitions_for_topic(self.topic) or set()
            if not partitions:
                assert time.monotonic() < deadline, f"topic {self.topic} has no partitions"
                await self._consumer._client.force_metadata_update()  # noqa: SLF001
                await asyncio.sleep(0.05)
        assignment = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assignment)
        await self._consumer.seek_to_beginning(*assignment)

    async def stop(self) -> None:
        await self._consumer.stop()

    def event_ids(self) -> list[str]:
        return [json.loads(r.value)["id"] for r in self.records]

    async def read_until(self, done: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met on {self.topic} after {timeout}s "
                                   f"({len(self.records)} records read)")
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                self.records.extend(records)

    async def wait_for_ids(self, ids: set[str], timeout: float = 15.0) -> None:
        await self.read_until(lambda: ids <= set(self.event_ids()), timeout)

    async def drain(self, seconds: float) -> None:
        """Keep reading for `seconds` (to see records that should not arrive)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                self.records.extend(records)


@pytest.fixture
async def database(example_database: str):
    db = Database(example_database, pool_size=20)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def producer(invora_kafka: str):
    p = EventProducer(invora_kafka, "test-relay")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
async def aggregate_type(invora_kafka: str) -> str:
    """A fresh aggregate type, hence a fresh topic `invora.<type>` no other test writes to."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    await ensure_topics(invora_kafka, [f"invora.{name}"], partitions=3)
    return name


@pytest.fixture
async def reader(invora_kafka: str, aggregate_type: str):
    r = TopicReader(invora_kafka, f"invora.{aggregate_type}")
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


@pytest.fixture
async def relays():
    """Relays created by a test, stopped at its end whatever happens."""
    started: list[OutboxRelay] = []
    yield started
    for relay in started:
        await relay.stop()


async def write_event(database: Database, aggregate_type: str, n: int = 0, aggregate_id: str | None = None) -> str:
    async with database.sessionmaker() as session, session.begin():
        envelope = await add_event(
            session, type="thing.happened", organization_id=uuid.UUID(int=1), aggregate_type=aggregate_type,
            aggregate_id=aggregate_id or str(uuid.uuid4()), data={"n": n},
        )
    return str(envelope.id)


async def unpublished_ids(database: Database) -> set[str]:
    async with database.sessionmaker() as session:
        rows = await session.execute(text("SELECT event_id::text FROM outbox_events WHERE published_at IS NULL"))
        return set(rows.scalars())


async def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met after {timeout}s")
        await asyncio.sleep(0.05)


# -- several relays ------------------------------------------------------------------------------


async def test_two_relays_at_once_publish_every_event(
    database: Database, producer: EventProducer, invora_kafka: str, aggregate_type: str, reader: TopicReader,
    relays: list[OutboxRelay],
):
    second_producer = EventProducer(invora_kafka, "test-relay-2")
    await second_producer.start()
    # two running relays (separate producers) and two driven by hand (sharing one producer)
    running = [
        OutboxRelay(database.asyncpg_dsn, p, service="test", batch_size=7, poll_interval=0.1)
        for p in (producer, second_producer)
    ]
    manual = [OutboxRelay(database.asyncpg_dsn, producer, service="test", batch_size=5) for _ in range(2)]
    relays.extend([*running, *manual])
    stop_manual = asyncio.Event()

    async def drive(relay: OutboxRelay) -> None:
        while not stop_manual.is_set():
            await relay.publish_pending()
            await asyncio.sleep(0.005)

    writers, per_writer = 8, 40
    written: list[str] = []

    async def writer(w: int) -> None:
        for i in range(per_writer):
            written.append(await write_event(database, aggregate_type, w * 1000 + i))

    drivers: list[asyncio.Task] = []
    try:
        for relay in running:
            await relay.start()
        drivers = [asyncio.create_task(drive(r)) for r in manual]
        await asyncio.gather(*(writer(w) for w in range(writers)))
        assert len(set(written)) == writers * per_writer
        await reader.wait_for_ids(set(written), timeout=20)
        await wait_until(lambda: _none_pending(database), timeout=5, what="every row marked published")
    finally:
        stop_manual.set()
        await asyncio.gather(*drivers, return_exceptions=True)
        for relay in running:
            await relay.stop()
        await second_producer.stop()
    assert set(written) <= set(reader.event_ids())


async def _none_pending(database: Database) -> bool:
    return not await unpublished_ids(database)


# -- out-of-order commits ---------------------------------------------------------------------------


async def test_transaction_committing_out_of_id_order_is_not_skipped_by_a_driven_relay(
    database: Database, producer: EventProducer, aggregate_type: str, reader: TopicReader,
    relays: list[OutboxRelay],
):
    relay = OutboxRelay(database.asyncpg_dsn, producer, service="test")
    relays.append(relay)
    async with database.sessionmaker() as session_a:
        await session_a.begin()
        event_a = await add_event(session_a, type="thing.happened", organization_id=uuid.UUID(int=1),
                                  aggregate_type=aggregate_type, aggregate_id="a", data={})
        event_b_id = await write_event(database, aggregate_type, aggregate_id="b")

        async with database.sessionmaker() as session:  # A's row has the lower position
            positions = dict((await session.execute(text(
                "SELECT event_id::text, position FROM outbox_events"
            ))).all())
        assert str(event_a.id) not in positions  # not visible yet: A has not committed
        assert await relay.publish_pending() == 1
        await reader.wait_for_ids({event_b_id})
        await session_a.commit()

    async with database.sessionmaker() as session:
        rows = dict((await session.execute(text("SELECT event_id::text, position FROM outbox_events"))).all())
    assert rows[str(event_a.id)] < rows[event_b_id]  # A really was written first

    assert await relay.publish_pending() == 1
    await reader.wait_for_ids({str(event_a.id)})
    assert sorted(reader.event_ids()) == sorted([event_b_id, str(event_a.id)])
    assert not await unpublished_ids(database)


async def test_transaction_committing_out_of_id_order_is_not_skipped_by_a_running_relay(
    database: Database, producer: EventProducer, aggregate_type: str, reader: TopicReader,
    relays: list[OutboxRelay],
):
    relay = OutboxRelay(database.asyncpg_dsn, producer, service="test", poll_interval=0.2)
    relays.append(relay)
    await relay.start()
    # several slow transactions started early, each overtaken by quick ones that commit first
    slow_ids: list[str] = []
    quick_ids: list[str] = []
    for round_ in range(3):
        async with database.sessionmaker() as slow:
            await slow.begin()
            for i in range(2):
                event = await add_event(slow, type="thing.happened", organization_id=uuid.UUID(int=1),
                                        aggregate_type=aggregate_type, aggregate_id=f"slow-{round_}-{i}", data={})
                slow_ids.append(str(event.id))
            quick = [await write_event(database, aggregate_type, aggregate_id=f"quick-{round_}-{i}")
                     for i in range(3)]
            quick_ids.extend(quick)
            await reader.wait_for_ids(set(quick))  # the relay moved past the slow rows' positions
            await slow.commit()
    await reader.wait_for_ids(set(slow_ids), timeout=10)
    assert set(reader.event_ids()) == set(slow_ids) | set(quick_ids)


# -- a relay dying between publishing and marking -----------------------------------------------------


class PublishThenFail:
    """Publishes for real, then fails before the relay can mark the rows published."""

    def __init__(self, inner: EventProducer) -> None:
        self.inner = inner
        self.published: list[str] = []

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        await self.inner.publish(messages)
        self.published.extend(m.event_id for m in messages)
        raise ConnectionResetError("relay process died after the broker acked")


class PublishThenHang:
    """Publishes for real, then hangs (until the relay is cancelled, as a killed process would)."""

    def __init__(self, inner: EventProducer) -> None:
        self.inner = inner
        self.published = asyncio.Event()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        await self.inner.publish(messages)
        self.published.set()
        await asyncio.Event().wait()


async def test_relay_failing_after_publish_leaves_rows_for_the_next_relay(
    database: Database, producer: EventProducer, aggregate_type: str, reader: TopicReader,
    relays: list[OutboxRelay],
):
    ids = {await write_event(database, aggregate_type, n) for n in range(3)}
    dying = PublishThenFail(producer)
    first, second = (OutboxRelay(database.asyncpg_dsn, p, service="test") for p in (dying, producer))
    relays.extend([first, second])
    with pytest.raises(ConnectionResetError):
        await first.publish_pending()
    assert set(dying.published) == ids
    await reader.wait_for_ids(ids)
    assert await unpublished_ids(database) == ids  # published, but not marked: not forgotten

    assert await second.publish_pending() == 3
    await reader.read_until(lambda: len(reader.records) >= 6)
    assert sorted(reader.event_ids()) == sorted([*ids, *ids])  # at least once: every event twice
    assert not await unpublished_ids(database)


async def test_relay_killed_after_publish_republishes_with_a_new_relay(
    database: Database, producer: EventProducer, aggregate_type: str, reader: TopicReader,
    relays: list[OutboxRelay],
):
    event_id = await write_event(database, aggregate_type)
    hanging = PublishThenHang(producer)
    killed = OutboxRelay(database.asyncpg_dsn, hanging, service="test", poll_interval=0.1)
    relays.append(killed)
    await killed.start()
    await asyncio.wait_for(hanging.published.wait(), 10)
    await reader.wait_for_ids({event_id})
    await killed.stop()  # cancelled mid-batch, its connection closed
    assert await unpublished_ids(database) == {event_id}

    successor = OutboxRelay(database.asyncpg_dsn, producer, service="test", poll_interval=0.1)
    relays.append(successor)
    await successor.start()
    await reader.read_until(lambda: reader.event_ids().count(event_id) == 2, timeout=10)
    await wait_until(lambda: _none_pending(database), timeout=5, what="the row marked published")


# -- waking and housekeeping -------------------------------------------------------------------------


async def test_notify_wakes_a_relay_with_a_long_poll_interval(
    database: Database, producer: EventProducer, aggregate_type: str, reader: TopicReader,
    relays: list[OutboxRelay],
):
    relay = OutboxRelay(database.asyncpg_dsn, producer, service="test", poll_interval=30)
    relays.append(relay)
    await relay.start()

    async def listening() -> bool:  # the relay's LISTEN is in place and its first pass is over
        async with database.sessionmaker() as session:
            return bool((await session.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'LISTEN%' AND state = 'idle'"
            ))).scalar_one())

    await wait_until(listening, timeout=10, what="relay listening")
    await asyncio.sleep(0.2)
    for _ in range(3):  # every commit wakes it, not just the first one
        started = time.monotonic()
        event_id = await write_event(database, aggregate_type)
        await reader.wait_for_ids({event_id}, timeout=2)
        assert time.monotonic() - started < 2


async def test_published_rows_older_than_retention_are_deleted(
    database: Database, producer: EventProducer, aggregate_type: str, relays: list[OutboxRelay],
):
    old = {await write_event(database, aggregate_type, n) for n in range(3)}
    recent = {await write_event(database, aggregate_type, n) for n in range(2)}
    async with database.sessionmaker() as session, session.begin():
        for ids, age in ((old, "2 hours"), (recent, "30 minutes")):  # published earlier (not by this test)
            await session.execute(
                text(f"UPDATE outbox_events SET published_at = now() - interval '{age}' "
                     "WHERE event_id::text = ANY(:ids)"),
                {"ids": list(ids)},
            )
    pending = {await write_event(database, aggregate_type, n) for n in range(2)}  # to be published now

    relay = OutboxRelay(database.asyncpg_dsn, producer, service="test", poll_interval=0.1,
                        retention_seconds=3600)
    relays.append(relay)
    await relay.start()

    async def remaining() -> dict[str, bool]:
        async with database.sessionmaker() as session:
            rows = await session.execute(text("SELECT event_id::text, published_at IS NOT NULL FROM outbox_events"))
            return dict(rows.all())

    await wait_until(lambda: _old_gone(remaining, old), timeout=10, what="old rows deleted")
    rows = await remaining()
    # recent and just-published rows stay (inside retention); unpublished ones are never deleted
    assert set(rows) == recent | pending
    await wait_until(lambda: _all_published(remaining), timeout=5, what="pending rows published")


async def _old_gone(remaining, old: set[str]) -> bool:
    return not (old & set(await remaining()))


async def _all_published(remaining) -> bool:
    return all((await remaining()).values())


async def test_inbox_rows_older_than_their_retention_are_pruned_in_batches(
    database: Database, producer: EventProducer, relays: list[OutboxRelay], monkeypatch,
):
    import invora.outbox.relay as relay_module

    monkeypatch.setattr(relay_module, "INBOX_PRUNE_BATCH", 7)  # several batches in one pass
    consumer = f"test-{uuid.uuid4().hex[:8]}"
    async with database.sessionmaker() as session, session.begin():
        await session.execute(text(
            "INSERT INTO inbox_events (consumer, event_id, event_type, topic, partition, \"offset\", processed_at)"
            " SELECT :consumer, gen_random_uuid(), 'test.old', 't', 0, n, now() - interval '3 hours'"
            " FROM generate_series(1, 40) n"), {"consumer": consumer})
        await session.execute(text(
            "INSERT INTO inbox_events (consumer, event_id, event_type, topic, partition, \"offset\", processed_at)"
            " SELECT :consumer, gen_random_uuid(), 'test.recent', 't', 0, n, now() - interval '30 minutes'"
            " FROM generate_series(1, 5) n"), {"consumer": consumer})

    relay = OutboxRelay(database.asyncpg_dsn, producer, service="test", poll_interval=0.1,
                        inbox_retention_seconds=3600)
    relays.append(relay)
    await relay.start()

    async def kept() -> dict[str, int]:
        async with database.sessionmaker() as session:
            rows = await session.execute(text(
                "SELECT event_type, count(*) FROM inbox_events WHERE consumer = :consumer GROUP BY 1"),
                {"consumer": consumer})
            return dict(rows.all())

    async def old_gone() -> bool:
        return "test.old" not in await kept()

    await wait_until(old_gone, timeout=10, what="old inbox rows pruned")
    assert await kept() == {"test.recent": 5}  # inside the retention: kept


# -- poison rows ---------------------------------------------------------------------------------------


async def test_a_row_that_cannot_be_published_is_parked_and_the_others_flow(
        database, producer, aggregate_type, reader, relays):
    """A message over the broker's size limit can never be published: it is parked with its error, the
    other aggregates' events are published at once, and its own aggregate's later events wait behind it."""
    from prometheus_client import REGISTRY

    async with database.sessionmaker() as session, session.begin():
        big = await add_event(session, type="thing.happened", organization_id=uuid.UUID(int=7),
                              aggregate_type=aggregate_type, aggregate_id="poisoned",
                              data={"blob": "x" * 2_000_000})  # over the producer's 1 MB request limit
    behind = await write_event(database, aggregate_type, 1, aggregate_id="poisoned")
    healthy = {await write_event(database, aggregate_type, n) for n in range(5)}
    relay = OutboxRelay(database.asyncpg_dsn, producer, service="poison-test", poll_interval=0.2)
    relays.append(relay)
    started = time.monotonic()
    await relay.start()
    await reader.wait_for_ids(healthy)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed  # as fast as a healthy batch: no retry of the poisoned row in between
    await reader.drain(0.5)
    assert str(big.id) not in reader.event_ids() and behind not in reader.event_ids()
    async with database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT p.item_key, p.error, p.attempts, p.group_key, p.organization_id, o.event_id::text "
            "FROM parked_items p JOIN outbox_events o ON o.position::text = p.item_key "
            "WHERE p.loop = 'outbox-relay'"))).all()
    assert len(rows) == 1
    _key, error, attempts, group, organization, event_id = rows[0]
    assert event_id == str(big.id) and "MessageSizeTooLarge" in error and attempts >= 1
    assert group == f"invora.{aggregate_type}/poisoned" and organization == uuid.UUID(int=7)
    assert await unpublished_ids(database) == {str(big.id), behind}
    await wait_until(lambda: REGISTRY.get_sample_value(
        "parked_items", {"service": "poison-test", "loop": "outbox-relay"}) == 1, what="the parked gauge")
    # repaired (here: the row shrunk), its next retry publishes it, then the row that waited, in order
    async with database.sessionmaker() as session, session.begin():
        await session.execute(text(
            "UPDATE outbox_events SET envelope = jsonb_set(envelope, '{data}', '{\"blob\": \"small\"}') "
            "WHERE event_id = :id"), {"id": big.id})
    await reader.wait_for_ids({str(big.id), behind}, timeout=20)
    order = [i for i in reader.event_ids() if i in (str(big.id), behind)]
    assert order == [str(big.id), behind]
    await wait_until(lambda: REGISTRY.get_sample_value(
        "parked_items", {"service": "poison-test", "loop": "outbox-relay"}) == 0, timeout=15, what="gauge at 0")
