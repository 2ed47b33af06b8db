"""Inbox and consumer runner: exactly-once effects on top of at-least-once delivery.

Real embedded PostgreSQL and Tansu broker. Each test has its own topic (one partition, so
offsets are easy to reason about) and its own consumer group.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.admin import ensure_topics
from invora.bus.consumer import ConsumerOptions, ConsumerSpec, EventConsumer
from invora.db.engine import Database
from invora.events.envelope import EventEnvelope

# Tansu's group join waits about half the session timeout: keep it short in tests
# (a failing event is retried in place 20 times before it is parked: the tests of in-place retries below
# look at it well before; the poison-item tests in test_poison_consumer.py park after 3)
FAST = ConsumerOptions(session_timeout_ms=2000, heartbeat_interval_ms=600,
                       retry_initial_seconds=0.05, retry_max_seconds=0.2, attempts_before_parking=20)


class RecordingHandler:
    """The handler's effect is a row in `test_effects` (no unique key: only the inbox prevents a second one)."""

    def __init__(self) -> None:
        self.attempts: Counter[uuid.UUID] = Counter()
        self.failing: Callable[[EventEnvelope], bool] = lambda _e: False
        self.delay = 0.0

    async def __call__(self, session: AsyncSession, event: EventEnvelope) -> None:
        self.attempts[event.id] += 1
        await session.execute(text("INSERT INTO test_effects (event_id) VALUES (:id)"), {"id": event.id})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing(event):
            raise RuntimeError(f"handler failed on {event.id}")  # after writing: the rollback must undo it


@pytest.fixture
async def topic(invora_kafka: str) -> str:
    name = f"test.inbox.{uuid.uuid4().hex[:12]}"
    await ensure_topics(invora_kafka, [name], partitions=1)
    return name


@pytest.fixture
async def consumers(effects_database: Database, invora_kafka: str, topic: str):
    """Factory for consumers of the test's topic (one handler, one group unless told otherwise)."""
    handler = RecordingHandler()
    group = f"test-group-{uuid.uuid4().hex[:8]}"
    made: list[EventConsumer] = []

    def make(name: str = "recorder", group_id: str | None = None) -> EventConsumer:
        consumer = EventConsumer(
            ConsumerSpec(name=name, topics=(topic,), handler=handler), service="test",
            bootstrap_servers=invora_kafka, sessionmaker=effects_database.sessionmaker, options=FAST,
            group_id=group_id or group,
        )
        made.append(consumer)
        return consumer

    make.handler = handler  # type: ignore[attr-defined]
    yield make
    for consumer in made:
        await consumer.stop()


def make_event(n: int = 0) -> EventEnvelope:
    return EventEnvelope(type="thing.happened", source="test", organization_id=uuid.UUID(int=1),
                         aggregate_type="thing", aggregate_id=f"thing-{n}", sequence=1, data={"n": n})


async def send(producer: AIOKafkaProducer, topic: str, value: bytes | None, key: bytes = b"k") -> None:
    await producer.send_and_wait(topic, value=value, key=key, partition=0)


async def effects(effects_database: Database) -> list[uuid.UUID]:
    async with effects_database.sessionmaker() as session:
        return list((await session.execute(text("SELECT event_id FROM test_effects ORDER BY seq"))).scalars())


async def committed(consumer: EventConsumer, topic: str) -> int | None:
    return await consumer._consumer.committed(TopicPartition(topic, 0))  # noqa: SLF001


async def wait_committed(consumer: EventConsumer, topic: str, offset: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while (current := await committed(consumer, topic)) != offset:
        if time.monotonic() > deadline:
            raise TimeoutError(f"committed offset is {current}, expected {offset}")
        await asyncio.sleep(0.05)


async def wait_for(condition: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met after {timeout}s")
        await asyncio.sleep(0.02)


def record_of(event: EventEnvelope, topic: str = "t", offset: int = 0) -> ConsumerRecord:
    value = event.model_dump_json().encode()
    return ConsumerRecord(topic=topic, partition=0, offset=offset, timestamp=0, timestamp_type=0, key=b"k",
                          value=value, checksum=None, serialized_key_size=1, serialized_value_size=len(value),
                          headers=[])


# -- duplicates ----------------------------------------------------------------------------------------


async def test_event_delivered_twice_by_kafka_has_one_effect(effects_database, topic, kafka_producer, consumers):
    first, second = make_event(1), make_event(2)
    for event in (first, first, second):  # the same message twice, as a relay retry would send it
        await send(kafka_producer, topic, event.model_dump_json().encode())
    consumer = consumers()
    await consumer.start()
    await wait_committed(consumer, topic, 3)

    assert await effects(effects_database) == [first.id, second.id]
    assert consumers.handler.attempts == {first.id: 1, second.id: 1}
    async with effects_database.sessionmaker() as session:
        inbox = (await session.execute(text(
            "SELECT consumer, event_id, topic, \"offset\" FROM inbox_events ORDER BY \"offset\""
        ))).all()
    assert [tuple(row) for row in inbox] == [("recorder", first.id, topic, 0), ("recorder", second.id, topic, 2)]


async def test_replayed_record_has_one_effect_even_when_processed_concurrently(effects_database, consumers):
    event = make_event()
    consumer = consumers()
    consumers.handler.delay = 0.2  # both deliveries are in flight at once
    await asyncio.gather(consumer.process(record_of(event)), consumer.process(record_of(event, offset=7)))
    await consumer.process(record_of(event))  # and once more, later
    assert await effects(effects_database) == [event.id]

    # the inbox is per consumer: another consumer of the same event has its own (single) effect
    other = consumers(name="another-consumer")
    await other.process(record_of(event))
    await other.process(record_of(event))
    assert await effects(effects_database) == [event.id, event.id]


# -- failures --------------------------------------------------------------------------------------------


async def test_failing_handler_leaves_offset_uncommitted_and_is_retried(
    effects_database, topic, kafka_producer, consumers
):
    first, second = make_event(1), make_event(2)
    for event in (first, second):
        await send(kafka_producer, topic, event.model_dump_json().encode())
    handler = consumers.handler
    healthy = asyncio.Event()
    handler.failing = lambda e: e.id == first.id and not healthy.is_set()

    consumer = consumers()
    await consumer.start()
    await wait_for(lambda: handler.attempts[first.id] >= 3, what="retries of the failing event")
    assert await committed(consumer, topic) is None
    assert await effects(effects_database) == []  # each failed attempt was rolled back
    assert handler.attempts[second.id] == 0  # nothing behind it on the partition overtook it

    healthy.set()
    await wait_committed(consumer, topic, 2)
    assert await effects(effects_database) == [first.id, second.id]
    assert handler.attempts[second.id] == 1


async def test_event_failing_when_consumer_stops_is_processed_by_the_next_consumer(
    effects_database, topic, kafka_producer, consumers
):
    first, second = make_event(1), make_event(2)
    for event in (first, second):
        await send(kafka_producer, topic, event.model_dump_json().encode())
    handler = consumers.handler
    handler.failing = lambda e: e.id == first.id

    crashing = consumers()
    await crashing.start()
    await wait_for(lambda: handler.attempts[first.id] >= 2, what="the failing event attempted")
    assert await committed(crashing, topic) is None
    await crashing.stop()
    assert await effects(effects_database) == []

    handler.failing = lambda _e: False  # e.g. the bug was fixed and the service redeployed
    successor = consumers()  # same group
    await successor.start()
    await wait_committed(successor, topic, 2)
    assert await effects(effects_database) == [first.id, second.id]
    assert handler.attempts[first.id] >= 3  # the successor really processed it again
    assert handler.attempts[second.id] == 1


async def test_malformed_messages_do_not_block_the_partition(effects_database, topic, kafka_producer, consumers):
    good = make_event()
    malformed = [
        b"not json at all",
        b"\xff\xfe\x00binary",
        b"[1, 2, 3]",
        b'{"id": "not-a-uuid", "type": "x"}',
        None,  # a tombstone
    ]
    for value in malformed:
        await send(kafka_producer, topic, value)
    await send(kafka_producer, topic, good.model_dump_json().encode())

    consumer = consumers()
    await consumer.start()
    await wait_committed(consumer, topic, len(malformed) + 1)
    assert await effects(effects_database) == [good.id]


async def test_payload_breaking_the_handlers_contract_is_rejected_not_retried_forever(
    effects_database, topic, kafka_producer, consumers
):
    from pydantic import BaseModel

    class Contract(BaseModel):
        n: int

    seen: list[uuid.UUID] = []

    async def strict(session: AsyncSession, event: EventEnvelope) -> None:
        await session.execute(text("INSERT INTO test_effects (event_id) VALUES (:id)"), {"id": event.id})
        Contract.model_validate(event.data)  # raises for a payload without `n`
        seen.append(event.id)

    bad = EventEnvelope(type="thing.happened", source="test", organization_id=uuid.UUID(int=1),
                        aggregate_type="thing", aggregate_id="thing-x", sequence=1, data={"other": True})
    good = make_event(7)
    for event in (bad, good):
        await send(kafka_producer, topic, event.model_dump_json().encode())

    consumer = consumers()
    consumer.spec = ConsumerSpec(name="strict", topics=(topic,), handler=strict)
    await consumer.start()
    await wait_committed(consumer, topic, 2)
    assert seen == [good.id]
    assert await effects(effects_database) == [good.id]  # the rejected event's partial work was rolled back
    async with effects_database.sessionmaker() as session:
        recorded = set((await session.execute(
            text("SELECT event_id FROM inbox_events WHERE consumer = 'strict'"))).scalars())
    assert recorded == {bad.id, good.id}  # rejected once, for good: a redelivery will not retry it
