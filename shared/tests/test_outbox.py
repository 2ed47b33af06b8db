"""Outbox: one commit carries the change and its event (DESIGN.md, principles 1 and 2).

Everything runs against the real embedded PostgreSQL and Tansu broker of the test harness.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy import text

from invora.bus.admin import ensure_topics
from invora.bus.producer import EventProducer
from invora.db.engine import Database
from invora.events.envelope import EventEnvelope
from invora.outbox import add_event
from invora.outbox.relay import OutboxRelay

ENVELOPE_FIELDS = {
    "id", "type", "source", "occurred_at", "organization_id", "aggregate_type", "aggregate_id",
    "sequence", "correlation_id", "version", "data",
}


async def read_records(
    bootstrap_servers: str,
    topic: str,
    predicate: Callable[[ConsumerRecord], bool],
    *,
    count: int = 1,
    timeout: float = 15.0,
    settle: float = 0.0,
) -> list[ConsumerRecord]:
    """Raw records of `topic` (every partition, from the start) matching `predicate`.

    Returns once `count` matched; with `settle`, keeps reading that much longer so that a
    record that should not be there has a chance to show up.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] = set()
        while not partitions:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                assert time.monotonic() < deadline, f"topic {topic} has no partitions"
                await consumer._client.force_metadata_update()  # noqa: SLF001
                await asyncio.sleep(0.05)
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        settle_until: float | None = None
        while True:
            now = time.monotonic()
            if settle_until is None and len(found) >= count:
                settle_until = now + settle
            if settle_until is not None and now >= settle_until:
                return found
            if now >= deadline:
                raise TimeoutError(f"{len(found)}/{count} matching records on {topic} after {timeout}s")
            batches = await consumer.getmany(timeout_ms=100)
            for records in batches.values():
                found.extend(r for r in records if predicate(r))
    finally:
        await consumer.stop()


def envelope_of(record: ConsumerRecord) -> dict:
    return json.loads(record.value)


@pytest.fixture
async def database(example_database: str):
    db = Database(example_database, pool_size=20)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def producer(invora_kafka: str):
    p = EventProducer(invora_kafka, "test-outbox")
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


async def test_committed_change_publishes_its_event(start_example, invora_kafka):
    service = await start_example(consumers=())
    org = uuid.uuid4()
    before = datetime.now(UTC)
    response = await service.client(org).post(
        "/api/v1/widgets", json={"widget": {"code": "w-pub", "name": "W"}},
        headers={"X-Correlation-Id": "corr-outbox-1"},
    )
    assert response.status_code == 200, response.text
    widget_id = response.json()["widget"]["lago_id"]

    (record,) = await read_records(invora_kafka, "invora.widget", lambda r: r.key == widget_id.encode())

    envelope = envelope_of(record)
    assert set(envelope) == ENVELOPE_FIELDS
    event_id = uuid.UUID(envelope["id"])
    assert event_id.version == 7
    assert envelope["type"] == "widget.created"
    assert envelope["source"] == "example"
    occurred_at = datetime.fromisoformat(envelope["occurred_at"])
    assert occurred_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= occurred_at <= datetime.now(UTC)
    assert envelope["organization_id"] == str(org)
    assert envelope["aggregate_type"] == "widget"
    assert envelope["aggregate_id"] == widget_id
    assert envelope["sequence"] == 1
    assert envelope["correlation_id"] == "corr-outbox-1" == response.headers["x-correlation-id"]
    assert envelope["version"] == 1
    assert envelope["data"] == {"code": "w-pub"}

    assert record.key == widget_id.encode()
    headers = dict(record.headers)
    assert headers["event_type"] == b"widget.created"
    assert headers["event_id"] == str(event_id).encode()

    async with service.database.sessionmaker() as session:
        deadline = time.monotonic() + 5
        while True:
            published_at = (await session.execute(
                text("SELECT published_at FROM outbox_events WHERE event_id = :id"), {"id": event_id},
            )).scalar_one()
            if published_at is not None or time.monotonic() > deadline:
                break
            await session.rollback()
            await asyncio.sleep(0.05)
    assert published_at is not None


async def test_rolled_back_change_publishes_nothing(start_example, invora_kafka):
    service = await start_example(consumers=())
    org = uuid.uuid4()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app, raise_app_exceptions=False),
        base_url="http://example.test",
        headers={"Authorization": f"Bearer {service.keys.sign(org, ['admin'])}"},
    )
    async with client:
        failed = await client.post(
            "/api/v1/widgets", json={"widget": {"code": "w-doomed", "name": "W", "fail_after_write": True}}
        )
        assert failed.status_code == 500
        # a later, successful change: once its event is on the topic, the relay has had every
        # chance to publish the failed one too (it publishes in outbox position order)
        ok = await client.post("/api/v1/widgets", json={"widget": {"code": "w-fine", "name": "W"}})
        assert ok.status_code == 200, ok.text

    org_records = await read_records(
        invora_kafka, "invora.widget", lambda r: envelope_of(r)["organization_id"] == str(org), settle=0.5,
    )
    assert [envelope_of(r)["data"]["code"] for r in org_records] == ["w-fine"]

    async with service.database.sessionmaker() as session:
        widgets = (await session.execute(
            text("SELECT code FROM widgets WHERE organization_id = :org"), {"org": org}
        )).scalars().all()
        outbox = (await session.execute(
            # the widgets' events (the API log middleware records both requests in events of its own)
            text("SELECT envelope->'data'->>'code' FROM outbox_events WHERE envelope->>'organization_id' = :org "
                 "AND envelope->>'type' LIKE 'widget.%'"),
            {"org": str(org)},
        )).scalars().all()
    assert widgets == ["w-fine"]
    assert outbox == ["w-fine"]


async def test_sequence_per_aggregate_follows_commit_order_under_concurrency(
    database: Database, producer: EventProducer, aggregate_type: str, invora_kafka: str
):
    org = uuid.uuid4()
    aggregate_id = str(uuid.uuid4())
    other_aggregate = str(uuid.uuid4())
    commit_order: list[int] = []
    writers = 12

    async def write(i: int) -> None:
        async with database.sessionmaker() as session:
            await session.begin()
            await asyncio.sleep(random.uniform(0, 0.02))
            envelope = await add_event(
                session, type="thing.changed", organization_id=org, aggregate_type=aggregate_type,
                aggregate_id=aggregate_id, data={"writer": i},
            )
            # hold the transaction open a little while others queue up behind it
            await asyncio.sleep(random.uniform(0, 0.02))
            if i % 4 == 3:  # some writers give up: their numbers must not leave gaps
                await session.rollback()
                return
            await session.commit()
            commit_order.append(envelope.sequence)

    async def other(i: int) -> None:  # a different aggregate has its own numbering
        async with database.sessionmaker() as session, session.begin():
            await add_event(session, type="thing.changed", organization_id=org, aggregate_type=aggregate_type,
                            aggregate_id=other_aggregate, data={"writer": i})

    await asyncio.gather(*(write(i) for i in range(writers)), *(other(i) for i in range(3)))
    committed = writers - writers // 4
    assert commit_order == list(range(1, committed + 1))

    relay = OutboxRelay(database.asyncpg_dsn, producer, service="test", batch_size=4)
    assert await relay.publish_pending() == committed + 3

    records = await read_records(
        invora_kafka, f"invora.{aggregate_type}", lambda r: r.key == aggregate_id.encode(), count=committed,
    )
    # one key → one partition, so offset order is the order consumers see
    records.sort(key=lambda r: r.offset)
    assert len({r.partition for r in records}) == 1
    assert [envelope_of(r)["sequence"] for r in records] == list(range(1, committed + 1))
    others = await read_records(
        invora_kafka, f"invora.{aggregate_type}", lambda r: r.key == other_aggregate.encode(), count=3,
    )
    assert sorted(envelope_of(r)["sequence"] for r in others) == [1, 2, 3]


async def test_add_events_gives_each_aggregate_consecutive_sequences_in_order(database: Database):
    """`add_events` = many `add_event` calls: same rows, per-aggregate sequences continuing the counter."""
    from invora.outbox import PendingEvent, add_events

    org, first, second = uuid.uuid4(), str(uuid.uuid4()), str(uuid.uuid4())
    async with database.sessionmaker() as session:
        await add_event(session, type="thing.created", organization_id=org, aggregate_type="thing",
                        aggregate_id=first, data={})
        envelopes = await add_events(session, [
            PendingEvent("thing.updated", org, "thing", first, {"n": 1}),
            PendingEvent("thing.created", org, "thing", second, {"n": 2}),
            PendingEvent("thing.updated", org, "thing", first, {"n": 3}),
        ])
        await session.commit()
        stored = (await session.execute(text(
            "SELECT event_id, event_type, message_key, envelope FROM outbox_events WHERE event_id = ANY(:ids) "
            "ORDER BY position"), {"ids": [e.id for e in envelopes]})).all()
    # one row each, positioned in the order given (the relay publishes by position), the envelope as built
    assert [row.event_id for row in stored] == [e.id for e in envelopes]
    assert [(row.event_type, row.message_key) for row in stored] == [(e.type, e.aggregate_id) for e in envelopes]
    assert [EventEnvelope.model_validate(json.loads(row.envelope) if isinstance(row.envelope, str) else row.envelope)
            for row in stored] == envelopes
    assert [(e.aggregate_id, e.sequence, e.data["n"]) for e in envelopes] == [(first, 2, 1), (second, 1, 2),
                                                                              (first, 3, 3)]
