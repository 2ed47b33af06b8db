"""Poison events: an event whose handler always fails is parked (recorded with its error, retried with
back-off, visible in `parked_items` and the `parked_items` gauge) and the partition moves on, for a
per-event handler and for a batch handler alike.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.admin import ensure_topics
from invora.bus.consumer import ConsumerOptions, ConsumerSpec, EventConsumer
from invora.events.envelope import EventEnvelope

POISON = ConsumerOptions(session_timeout_ms=2000, heartbeat_interval_ms=600, retry_initial_seconds=0.05,
                         retry_max_seconds=0.2, attempts_before_parking=3, park_initial_seconds=0.5,
                         park_max_seconds=2.0, parked_poll_seconds=0.1)


def make_event(n: int) -> EventEnvelope:
    return EventEnvelope(type="thing.happened", source="test", organization_id=uuid.UUID(int=n + 1),
                         aggregate_type="thing", aggregate_id="same-aggregate", sequence=n + 1, data={"n": n})


async def _parked(db, loop: str) -> dict[str, tuple[str, int]]:
    async with db.sessionmaker() as session:
        rows = (await session.execute(text("SELECT item_key, error, attempts FROM parked_items WHERE loop = :l"),
                                      {"l": loop})).all()
    return {k: (e, a) for k, e, a in rows}


async def _effects(db) -> list[uuid.UUID]:
    async with db.sessionmaker() as session:
        return list((await session.execute(text("SELECT event_id FROM test_effects ORDER BY seq"))).scalars())


async def _until(condition, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"{what} not met after {timeout}s"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("batch", [False, True], ids=["per-event", "batch"])
async def test_a_poison_event_is_parked_and_the_partition_moves_on(
        effects_database, invora_kafka, kafka_producer, batch):
    topic = f"test.poison.{uuid.uuid4().hex[:12]}"
    await ensure_topics(invora_kafka, [topic], partitions=1)
    attempts: Counter[uuid.UUID] = Counter()
    poisoned: set[uuid.UUID] = set()

    async def one(session: AsyncSession, event: EventEnvelope) -> None:
        attempts[event.id] += 1
        await session.execute(text("INSERT INTO test_effects (event_id) VALUES (:id)"), {"id": event.id})
        if event.id in poisoned:
            raise RuntimeError(f"always fails on {event.data['n']}")

    async def many(session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
        for event in events:
            await one(session, event)

    name = f"poison-{uuid.uuid4().hex[:6]}"
    spec = (ConsumerSpec(name=name, topics=(topic,), batch_handler=many) if batch
            else ConsumerSpec(name=name, topics=(topic,), handler=one))
    consumer = EventConsumer(spec, service="test", bootstrap_servers=invora_kafka,
                             sessionmaker=effects_database.sessionmaker, options=POISON,
                             group_id=f"g-{uuid.uuid4().hex[:8]}")
    events = [make_event(n) for n in range(4)]
    poisoned.add(events[1].id)  # the second of four, all on one partition and one aggregate key
    for event in events:
        await kafka_producer.send_and_wait(topic, value=event.model_dump_json().encode(), key=b"same-aggregate",
                                           partition=0)
    await consumer.start()
    try:
        started = time.monotonic()
        healthy = {events[0].id, events[2].id, events[3].id}
        await _until(lambda: _has(effects_database, healthy), what="the healthy events handled")
        elapsed = time.monotonic() - started
        # in place: 3 attempts (0.05 + 0.1 s of back-off) and the group join, then the partition moves on
        assert elapsed < 6.0, elapsed
        loop = f"consumer:{name}"
        parked = await _parked(effects_database, loop)
        assert list(parked) == [str(events[1].id)]
        error, failures = parked[str(events[1].id)]
        assert error == "RuntimeError: always fails on 1" and failures == 1
        assert events[1].id not in await _effects(effects_database)  # each failed attempt rolled back
        assert REGISTRY.get_sample_value("parked_items", {"service": "test", "loop": loop}) == 1
        # retried from the parking lot with back-off (0.5 s, then 1 s...): the failure count grows
        await _until(lambda: _failures_at_least(effects_database, loop, str(events[1].id), 2),
                     what="a retry from the parking lot")
        # the cause is repaired: the next retry succeeds, exactly once, and the item leaves the lot
        poisoned.clear()
        await _until(lambda: _is_empty(effects_database, loop), what="the parked event released")
        effects = await _effects(effects_database)
        assert sorted(effects) == sorted(e.id for e in events) and len(effects) == 4
        assert REGISTRY.get_sample_value("parked_items", {"service": "test", "loop": loop}) == 0
        # the offset moved past everything: nothing is redelivered
        committed = await consumer._consumer.committed(__import__("aiokafka").TopicPartition(topic, 0))  # noqa: SLF001
        assert committed == 4
    finally:
        await consumer.stop()


async def _has(db, ids: set[uuid.UUID]) -> bool:
    return ids <= set(await _effects(db))


async def _failures_at_least(db, loop: str, key: str, n: int) -> bool:
    return (await _parked(db, loop)).get(key, ("", 0))[1] >= n


async def _is_empty(db, loop: str) -> bool:
    return not await _parked(db, loop)
