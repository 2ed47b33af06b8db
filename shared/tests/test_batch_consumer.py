"""Consumers with a batch handler: one transaction per fetched batch, and the per-event rules when a batch fails.

Real embedded PostgreSQL and Tansu broker, as in test_inbox.py: each test has its own topic
(one partition) and consumer group. Messages are published before the consumer starts, so
its first fetch holds several of them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.admin import ensure_topics
from invora.bus.consumer import ConsumerOptions, ConsumerSpec, EventConsumer
from invora.db.engine import Database
from invora.events.envelope import EventEnvelope
from invora.observability.metrics import CONSUMER_PROCESSED

FAST = ConsumerOptions(session_timeout_ms=2000, heartbeat_interval_ms=600,
                       retry_initial_seconds=0.05, retry_max_seconds=0.2)


class Contract(BaseModel):
    n: int


class BatchRecorder:
    """Writes one `test_effects` row per event, then reads each event's data with `Contract`."""

    def __init__(self) -> None:
        self.calls: list[list[uuid.UUID]] = []
        self.failures_left = 0  # raise (after writing) on this many calls: a transient failure

    async def __call__(self, session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
        self.calls.append([e.id for e in events])
        for event in events:
            await session.execute(text("INSERT INTO test_effects (event_id) VALUES (:id)"), {"id": event.id})
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("the effects_database went away")
        for event in events:
            Contract.model_validate(event.data)


@pytest.fixture
async def topic(invora_kafka: str) -> str:
    name = f"test.batch.{uuid.uuid4().hex[:12]}"
    await ensure_topics(invora_kafka, [name], partitions=1)
    return name


@pytest.fixture
async def batch_consumer(effects_database: Database, invora_kafka: str, topic: str):
    handler = BatchRecorder()
    name = f"batch-{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(
        ConsumerSpec(name=name, topics=(topic,), batch_handler=handler), service="test",
        bootstrap_servers=invora_kafka, sessionmaker=effects_database.sessionmaker, options=FAST,
        group_id=f"test-group-{name}",
    )
    consumer.handler = handler  # type: ignore[attr-defined]
    try:
        yield consumer
    finally:
        await consumer.stop()


def event(n: int, data: dict | None = None) -> EventEnvelope:
    return EventEnvelope(type="thing.happened", source="test", organization_id=uuid.UUID(int=1),
                         aggregate_type="thing", aggregate_id=f"thing-{n}", sequence=1,
                         data={"n": n} if data is None else data)


async def publish(producer: AIOKafkaProducer, topic: str, values: list[bytes | None]) -> None:
    for value in values:
        await producer.send_and_wait(topic, value=value, key=b"k", partition=0)


async def effects(effects_database: Database) -> list[uuid.UUID]:
    async with effects_database.sessionmaker() as session:
        return list((await session.execute(text("SELECT event_id FROM test_effects ORDER BY seq"))).scalars())


async def inbox(effects_database: Database, consumer: EventConsumer) -> set[uuid.UUID]:
    async with effects_database.sessionmaker() as session:
        rows = await session.execute(text("SELECT event_id FROM inbox_events WHERE consumer = :c"),
                                     {"c": consumer.spec.name})
        return set(rows.scalars())


async def wait_committed(consumer: EventConsumer, topic: str, offset: int, timeout: float = 15.0) -> None:
    from aiokafka import TopicPartition

    deadline = asyncio.get_running_loop().time() + timeout
    while (current := await consumer._consumer.committed(TopicPartition(topic, 0))) != offset:  # noqa: SLF001
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"committed offset is {current}, expected {offset}")
        await asyncio.sleep(0.05)


def count(consumer: EventConsumer, outcome: str) -> float:
    return CONSUMER_PROCESSED.labels(consumer.service, consumer.spec.name, outcome)._value.get()  # noqa: SLF001


# -- the declaration -------------------------------------------------------------------------------------


async def _noop(*_args) -> None:
    return None


def test_a_spec_has_exactly_one_kind_of_handler():
    with pytest.raises(ValueError, match="exactly one"):
        ConsumerSpec(name="none", topics=("t",))
    with pytest.raises(ValueError, match="exactly one"):
        ConsumerSpec(name="both", topics=("t",), handler=_noop, batch_handler=_noop)
    ConsumerSpec(name="positional", topics=("t",), handler=_noop)  # the per-event form is unchanged


# -- batches -----------------------------------------------------------------------------------------------


async def test_a_fetched_batch_is_one_call_with_each_new_event_once(effects_database, topic, kafka_producer,
                                                                    batch_consumer):
    first, second, third = event(1), event(2), event(3)
    values = [e.model_dump_json().encode() for e in (first, second, first, third)]  # `first` twice
    await publish(kafka_producer, topic, [*values, b"not json", None])
    await batch_consumer.start()
    await wait_committed(batch_consumer, topic, 6)

    assert await effects(effects_database) == [first.id, second.id, third.id]
    calls = batch_consumer.handler.calls
    assert [i for call in calls for i in call] == [first.id, second.id, third.id]
    assert len(calls) < 3, calls  # batched: the three events did not take a transaction each
    assert count(batch_consumer, "processed") == 3
    assert count(batch_consumer, "duplicate") == 1
    assert count(batch_consumer, "malformed") == 2

    # redelivered later (a relay retry): the inbox drops it, the handler is not called with it again
    seen = len(calls)
    fourth = event(4)
    await publish(kafka_producer, topic, [second.model_dump_json().encode(), fourth.model_dump_json().encode()])
    await wait_committed(batch_consumer, topic, 8)
    assert await effects(effects_database) == [first.id, second.id, third.id, fourth.id]
    assert [i for call in calls[seen:] for i in call] == [fourth.id]


async def test_an_event_breaking_the_contract_is_rejected_alone_and_its_batch_goes_on(
    effects_database, topic, kafka_producer, batch_consumer
):
    before, bad, after = event(1), event(2, {"other": True}), event(3)
    await publish(kafka_producer, topic, [e.model_dump_json().encode() for e in (before, bad, after)])
    await batch_consumer.start()
    await wait_committed(batch_consumer, topic, 3)

    # the batch failed as a whole, then went one event at a time: only the bad one was rejected
    assert await effects(effects_database) == [before.id, after.id]
    assert await inbox(effects_database, batch_consumer) == {before.id, bad.id, after.id}  # rejected for good
    assert count(batch_consumer, "rejected") == 1
    assert count(batch_consumer, "processed") == 2
    calls = batch_consumer.handler.calls
    assert calls[0] == [before.id, bad.id, after.id] and calls[1:] == [[before.id], [bad.id], [after.id]]


async def test_a_failing_batch_is_retried_in_order_until_it_succeeds(effects_database, topic, kafka_producer,
                                                                     batch_consumer):
    events = [event(n) for n in range(4)]
    await publish(kafka_producer, topic, [e.model_dump_json().encode() for e in events])
    batch_consumer.handler.failures_left = 3  # the batch try, then the first event twice
    await batch_consumer.start()
    await wait_committed(batch_consumer, topic, 4)

    assert await effects(effects_database) == [e.id for e in events]  # every failed try was rolled back, order kept
    assert count(batch_consumer, "failed") == 2  # the per-event retries; the batch try falls back uncounted
    assert count(batch_consumer, "processed") == 4
    assert count(batch_consumer, "rejected") == 0
