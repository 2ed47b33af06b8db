"""The fan-out consumer: the platform's EventConsumer, one transaction per fetched batch instead of per event.

The guarantees are the platform's: the inbox rows and their effects commit together, then
the offset is committed; a redelivered event finds its inbox row and has no second effect;
a batch that fails is retried (with back-off) until it succeeds or the consumer stops, so
nothing behind it on the partition overtakes it. What changes is the cost: this service
consumes every topic of the suite, and a per-event transaction (inbox insert, endpoint
lookup, inserts, commit) capped it at about 150 events/s on a 2-core machine; per batch it
is the same handful of statements for one event or five hundred.

It is started as a background task of the app (not a `ConsumerSpec`) because the app
builder only knows the per-event consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable

from aiokafka import ConsumerRecord, TopicPartition
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerOptions, ConsumerSpec, EventConsumer
from invora.events.envelope import EventEnvelope
from invora.events.topics import ALL_TOPICS
from invora.logging import get_logger
from invora.observability.metrics import CONSUMER_PROCESSED
from notifications.fanout.consumer import fan_out
from notifications.runtime import NotificationsRuntime

log = get_logger(__name__)

SERVICE = "notifications"

_RECORD_MANY = text(
    """
    INSERT INTO inbox_events (consumer, event_id, event_type, topic, partition, "offset")
    SELECT :consumer, e.event_id, e.event_type, :topic, :partition, e.event_offset
    FROM unnest(CAST(:event_ids AS uuid[]), CAST(:event_types AS varchar[]), CAST(:offsets AS bigint[]))
         AS e(event_id, event_type, event_offset)
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING event_id
    """
)


class BatchFanoutConsumer(EventConsumer):
    def __init__(self, runtime: NotificationsRuntime, **kwargs) -> None:
        self.runtime = runtime

        async def single(session: AsyncSession, event: EventEnvelope) -> None:  # the inherited one-event path
            await fan_out(session, [event], runtime)

        spec = ConsumerSpec(name=runtime.settings.consumer_name, topics=ALL_TOPICS, handler=single)
        super().__init__(spec, service=SERVICE, **kwargs)

    async def _process_partition(self, tp: TopicPartition, records: Iterable[ConsumerRecord]) -> None:
        records = list(records)
        if not records:
            return
        delay = self.options.retry_initial_seconds
        while True:
            if self._stopping:
                return  # uncommitted: the batch is consumed again after a restart
            try:
                await self.process_batch(tp, records)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried; the offset stays uncommitted
                CONSUMER_PROCESSED.labels(SERVICE, self.spec.name, "failed").inc(len(records))
                log.error("fanout_batch_failed", consumer=self.group_id, topic=tp.topic, partition=tp.partition,
                          first_offset=records[0].offset, size=len(records), error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.options.retry_max_seconds)
        await self._consumer.commit({tp: records[-1].offset + 1})

    def _parse(self, record: ConsumerRecord) -> EventEnvelope | None:
        try:
            return EventEnvelope.model_validate(json.loads(record.value))
        except (TypeError, ValueError, ValidationError) as exc:
            # a malformed message can never succeed; retrying would block the partition forever
            CONSUMER_PROCESSED.labels(SERVICE, self.spec.name, "malformed").inc()
            log.error("consumer_malformed_event", consumer=self.group_id, topic=record.topic,
                      partition=record.partition, offset=record.offset, error=str(exc)[:500])
            return None

    async def process_batch(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        events: list[tuple[EventEnvelope, int]] = []
        for record in records:
            if (event := self._parse(record)) is not None:
                events.append((event, record.offset))
        if not events:
            return
        async with self.sessionmaker() as session:
            inserted = set(
                (
                    await session.execute(
                        _RECORD_MANY,
                        {
                            "consumer": self.spec.name, "topic": tp.topic, "partition": tp.partition,
                            "event_ids": [e.id for e, _ in events], "event_types": [e.type for e, _ in events],
                            "offsets": [offset for _, offset in events],
                        },
                    )
                ).scalars()
            )
            fresh: list[EventEnvelope] = []
            for event, _offset in events:
                if event.id in inserted:
                    inserted.discard(event.id)  # the same event twice in one batch counts once
                    fresh.append(event)
            await fan_out(session, fresh, self.runtime)
            await session.commit()
        CONSUMER_PROCESSED.labels(SERVICE, self.spec.name, "processed").inc(len(fresh))
        if len(events) > len(fresh):
            CONSUMER_PROCESSED.labels(SERVICE, self.spec.name, "duplicate").inc(len(events) - len(fresh))


def fanout_consumer_lifespan(runtime: NotificationsRuntime, options: ConsumerOptions):
    """A `ServiceDefinition.background` factory: the consumer runs once the broker link (and its topics) is up."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = runtime.settings
        if not settings.consumers_enabled:
            yield
            return
        consumer = BatchFanoutConsumer(
            runtime, bootstrap_servers=settings.kafka_bootstrap_servers,
            sessionmaker=app.state.database.sessionmaker, options=options,
        )
        broker = app.state.broker

        async def start() -> None:
            await broker.wait_connected()
            await consumer.start()

        # joining the group can take seconds: start-up does not wait for it (the group reads from
        # its committed offsets, or the earliest, so nothing published meanwhile is missed)
        task = asyncio.create_task(start(), name="fanout-consumer-start")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await consumer.stop()

    return lifespan
