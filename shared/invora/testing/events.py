"""Wait for an event on a topic (tests of the event path)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from invora.events.envelope import EventEnvelope


async def read_events(
    bootstrap_servers: str,
    topic: str,
    predicate: Callable[[EventEnvelope], bool] = lambda _e: True,
    *,
    count: int = 1,
    timeout: float = 15.0,
) -> list[EventEnvelope]:
    """Read `topic` from the start (no consumer group) until `count` events match `predicate`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: list[EventEnvelope] = []
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] = set()
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer._client.force_metadata_update()  # noqa: SLF001 - topic may be brand new
                await asyncio.sleep(0.1)
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        while len(found) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(found)}/{count} matching events on {topic} after {timeout}s")
            batches = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for records in batches.values():
                for record in records:
                    envelope = EventEnvelope.model_validate(json.loads(record.value))
                    if predicate(envelope):
                        found.append(envelope)
        return found
    finally:
        await consumer.stop()


@pytest.fixture
def wait_for_event(invora_kafka: str):
    """`await wait_for_event("invora.plan", lambda e: e.type == "plan.created")` → the first matching envelope."""

    async def wait(topic: str, predicate: Callable[[EventEnvelope], bool] = lambda _e: True, timeout: float = 15.0):
        return (await read_events(invora_kafka, topic, predicate, timeout=timeout))[0]

    return wait
