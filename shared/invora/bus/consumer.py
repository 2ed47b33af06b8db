"""Consumer runner: exactly-once *effects* on top of at-least-once delivery.

For every message: in one database transaction, insert (consumer, event id) into the
inbox and, only if that row is new, run the handler; commit; then commit the Kafka
offset. A redelivered event finds its inbox row and has no second effect. A handler
that raises rolls the transaction back and the same message is retried in place, with
back-off, `attempts_before_parking` times (a database blip, a deploy): meanwhile nothing
behind it on that partition is processed.

A poison event (one that keeps failing) must not block its partition forever: after those
attempts it is *parked* (`invora.parking`, loop `consumer:<name>`: the event itself, its
error, its failure count, in `parked_items`, shown by the `parked_items` gauge) and the
consumer moves on. Parked events are retried from the table on an exponential back-off
(`park_initial_seconds` doubling to `park_max_seconds`); the retry that succeeds commits the
effect, the inbox row and the removal from the parking lot together. If the parking itself
cannot be written (the database is away), the event is retried in place as before, so nothing
is ever skipped unrecorded.

The ordering trade-off: events after a parked one on its partition, the same aggregate's
included, are handled before it. Handlers therefore must not assume that an aggregate's
earlier events were all applied (each event carries its per-aggregate `sequence`, so a handler
that needs order can compare it with what it stored). Blocking the whole partition instead
would let one bad event stop every organization sharing it, which is what this prevents.

A consumer may declare a `batch_handler` instead of a per-event `handler`: each fetched
batch of a partition is then handled in one transaction (one inbox statement and one call
for up to `max_records` events), which is what lets a consumer of every topic keep up.
Batching is only a cost saving, never a change of outcome: a batch that fails for any
reason is rolled back and its events are processed again one at a time, each with the
per-event rules below (retry with back-off, `malformed`, `rejected`), so one bad event can
neither block the partition nor take the rest of its batch down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.bus import inbox
from invora.bus.kafka_config import KafkaClientConfig
from invora.context import correlation_id_var
from invora.events.envelope import EventEnvelope
from invora.logging import get_logger
from invora.observability.metrics import CONSUMER_LAG, CONSUMER_PROCESSED
from invora.parking import Backoff, ParkingLot
from invora.settings import ServiceSettings

log = get_logger(__name__)

Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
# gets the new (not yet handled) events of one partition's batch, in offset order, each once
BatchHandler = Callable[[AsyncSession, Sequence[EventEnvelope]], Awaitable[None]]

MALFORMED = "malformed"
IGNORED = "ignored"


@dataclass(frozen=True)
class ConsumerSpec:
    """What a service declares: a name (also the consumer group suffix), topics, and a handler.

    Exactly one of `handler` (one event per transaction) and `batch_handler` (a fetched batch
    per transaction; see the module docstring) is given. A batch handler must treat its
    events independently: when a batch fails it is called again with one event at a time.
    """

    name: str
    topics: tuple[str, ...]
    handler: Handler | None = None
    event_types: frozenset[str] | None = None  # None: every event on the topics
    batch_handler: BatchHandler | None = None

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.batch_handler is None):
            raise ValueError(f"consumer {self.name!r}: give exactly one of handler and batch_handler")

    async def handle_one(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        if self.handler is not None:
            await self.handler(session, envelope)
        else:
            assert self.batch_handler is not None
            await self.batch_handler(session, [envelope])


@dataclass
class ConsumerOptions:
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_records: int = 500
    # how long the broker may hold a fetch open waiting for data: aiokafka's 500 ms default adds
    # that much latency per hop on brokers that always wait the full time (the embedded one does)
    fetch_max_wait_ms: int = 100
    retry_initial_seconds: float = 0.2
    retry_max_seconds: float = 30.0
    # in-place attempts of a failing event before it is parked and the partition moves on
    attempts_before_parking: int = 3  # 0.2 + 0.4 s of in-place back-off by default
    park_initial_seconds: float = 5.0
    park_max_seconds: float = 600.0
    parked_poll_seconds: float = 1.0  # how often due parked events are looked for
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> ConsumerOptions:
        """The service's consumer settings; heartbeats at a third of the session timeout (Kafka's advice)."""
        timeout = settings.consumer_session_timeout_ms
        return cls(session_timeout_ms=timeout, heartbeat_interval_ms=max(300, timeout // 3),
                   fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms)


@dataclass(frozen=True)
class StoredRecord:
    """A parked event as `parked_items.payload` keeps it: what `process` reads of a Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    @classmethod
    def of(cls, payload: dict) -> StoredRecord:
        key = payload.get("key")
        return cls(payload["topic"], int(payload["partition"]), int(payload["offset"]),
                   key.encode() if isinstance(key, str) else None, str(payload["value"]).encode())


class SkippedMessage(Exception):
    """A message this consumer skips without a transaction: `malformed`, or `ignored` (a type it does not handle)."""

    def __init__(self, outcome: str, detail: str = "") -> None:
        super().__init__(outcome, detail)
        self.outcome = outcome
        self.detail = detail


class _AssignmentWatch(ConsumerRebalanceListener):
    """Sets `joined` once the group has given this member its partitions (possibly none: more
    members than partitions), which is when the consumer starts reading."""

    def __init__(self, joined: asyncio.Event) -> None:
        self.joined = joined

    async def on_partitions_revoked(self, revoked) -> None:  # noqa: ANN001 - aiokafka's signature
        return None

    async def on_partitions_assigned(self, assigned) -> None:  # noqa: ANN001
        self.joined.set()


class EventConsumer:
    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        service: str,
        bootstrap_servers: str | KafkaClientConfig,
        sessionmaker: async_sessionmaker[AsyncSession],
        options: ConsumerOptions | None = None,
        group_id: str | None = None,
    ) -> None:
        self.spec = spec
        self.service = service
        self.sessionmaker = sessionmaker
        self.options = options or ConsumerOptions()
        self.group_id = group_id or f"{service}.{spec.name}"
        self.kafka = KafkaClientConfig.of(bootstrap_servers)
        # set at the first partition assignment and kept: /ready waits for it (see `joined`)
        self._joined = asyncio.Event()
        self._consumer = self._new_client()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._rewind = False
        self.parking = ParkingLot(service, f"consumer:{spec.name}", Backoff(
            self.options.park_initial_seconds, self.options.park_max_seconds))
        self._next_parked_poll = 0.0

    @property
    def joined(self) -> bool:
        """Whether the consumer has had its partition assignment (it then reads what arrives at once).

        Stays true through later rebalances and broker replacements: a member that has joined once
        rejoins on its own, and flipping readiness off during every rebalance would take the whole
        service out of its load balancer for what is a pause of its consumers only.
        """
        return self._joined.is_set()

    async def wait_joined(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._joined.wait(), timeout)

    def _new_client(self) -> AIOKafkaConsumer:
        client = self.kafka.consumer(
            group_id=self.group_id,
            client_id=f"{self.service}-{self.spec.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.options.session_timeout_ms,
            heartbeat_interval_ms=self.options.heartbeat_interval_ms,
            **{"fetch_max_wait_ms": self.options.fetch_max_wait_ms, **self.options.extra},
        )
        client.subscribe(topics=list(self.spec.topics), listener=_AssignmentWatch(self._joined))
        return client

    async def reset_client(self) -> None:
        """After a failed `start()`: a fresh aiokafka consumer for the next try."""
        with contextlib.suppress(Exception):
            await self._consumer.stop()
        self._consumer = self._new_client()

    def rewind(self) -> None:
        """Read every assigned partition again from its beginning, at the next fetch: the broker was
        replaced (see `BrokerConnection`), so the positions held are offsets of a log that is gone and
        would skip the start of the new one. The inbox makes events read twice harmless."""
        self._rewind = True

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.group_id}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self._consumer.stop()

    async def _run(self) -> None:
        while not self._stopping:
            await self._retry_parked_when_due()
            try:
                if self._rewind:
                    self._rewind = False
                    # none assigned (a rebalance under way): the rejoin finds no committed offset on the
                    # new broker and starts from the earliest anyway
                    if assigned := self._consumer.assignment():
                        await self._consumer.seek_to_beginning(*assigned)
                    log.warning("consumer_rewound_after_broker_loss", consumer=self.group_id)
                batches = await self._consumer.getmany(timeout_ms=500, max_records=self.options.max_records)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep consuming through broker hiccups
                log.warning("consumer_fetch_failed", consumer=self.group_id, error=repr(exc))
                await asyncio.sleep(1)
                continue
            for tp, records in batches.items():
                try:
                    await self._process_partition(tp, records)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - e.g. a commit refused during a rebalance
                    # the records are redelivered to whoever owns the partition; the inbox makes that harmless
                    log.warning("consumer_commit_failed", consumer=self.group_id, topic=tp.topic,
                                partition=tp.partition, error=repr(exc))
                    continue
                await self._report_lag(tp)

    async def _process_partition(self, tp: TopicPartition, records: Iterable[ConsumerRecord]) -> None:
        records = list(records)
        if not records:
            return
        if self.spec.batch_handler is not None and len(records) > 1 and await self._try_batch(tp, records):
            await self._consumer.commit({tp: records[-1].offset + 1})
            return
        next_offset: int | None = None
        for record in records:
            if not await self._process_with_retry(record):
                break  # stopping: leave the rest (and this one) uncommitted
            next_offset = record.offset + 1
        if next_offset is not None:
            await self._consumer.commit({tp: next_offset})

    async def _try_batch(self, tp: TopicPartition, records: list[ConsumerRecord]) -> bool:
        """One try of the whole batch; False (logged) sends it down the one-event-at-a-time path."""
        if self._stopping:
            return False
        try:
            await self.process_batch(records)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the per-event path retries, or rejects the event at fault
            log.warning("consumer_batch_failed", consumer=self.group_id, topic=tp.topic, partition=tp.partition,
                        first_offset=records[0].offset, size=len(records), error=repr(exc)[:1000])
            return False

    async def _process_with_retry(self, record: ConsumerRecord) -> bool:
        delay = self.options.retry_initial_seconds
        failures = 0
        while not self._stopping:
            try:
                await self.process(record)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried, then parked; the offset stays uncommitted until then
                CONSUMER_PROCESSED.labels(self.service, self.spec.name, "failed").inc()
                failures += 1
                if failures >= self.options.attempts_before_parking and await self._park(record, exc):
                    return True
                log.error(
                    "consumer_handler_failed", consumer=self.group_id, topic=record.topic,
                    partition=record.partition, offset=record.offset, error=repr(exc), retry_in=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.options.retry_max_seconds)
        return False

    # -- parked events ------------------------------------------------------------------------
    async def _park(self, record: ConsumerRecord | StoredRecord, exc: BaseException) -> bool:
        """Set a failing event aside (True), or False when it cannot be recorded (it is then retried in place)."""
        try:
            envelope = self._decode(record)
        except SkippedMessage:  # cannot happen for an event that reached its handler; never park what we can't read
            return False
        key = record.key.decode(errors="replace") if isinstance(record.key, bytes) else None
        try:
            async with self.sessionmaker() as session:
                await self.parking.park(
                    session, envelope.id, exc, group_key=f"{record.topic}/{key}" if key is not None else None,
                    organization_id=envelope.organization_id,
                    payload={"topic": record.topic, "partition": record.partition, "offset": record.offset,
                             "key": key, "value": bytes(record.value).decode()})
                await session.commit()
                await self.parking.refresh_metric(session)
        except asyncio.CancelledError:
            raise
        except Exception as park_error:  # noqa: BLE001 - e.g. the database is away: keep the event in place
            log.warning("consumer_park_failed", consumer=self.group_id, error=repr(park_error))
            return False
        CONSUMER_PROCESSED.labels(self.service, self.spec.name, "parked").inc()
        return True

    async def _retry_parked_when_due(self) -> None:
        if time.monotonic() < self._next_parked_poll:
            return
        self._next_parked_poll = time.monotonic() + self.options.parked_poll_seconds
        try:
            await self.retry_parked()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the next poll tries again
            log.warning("consumer_parked_retry_failed", consumer=self.group_id, error=repr(exc))

    async def retry_parked(self, limit: int = 100) -> int:
        """Retry the parked events that are due; returns how many succeeded (left the parking lot)."""
        async with self.sessionmaker() as session:
            due = await self.parking.due(session, limit)
        succeeded = 0
        for item in due:
            if self._stopping:
                break
            stored = StoredRecord.of(item.payload)
            try:
                await self.process(stored, parked_key=item.item_key)
                succeeded += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one more failure: a longer back-off
                CONSUMER_PROCESSED.labels(self.service, self.spec.name, "failed").inc()
                await self._park(stored, exc)
        if due:
            async with self.sessionmaker() as session:
                await self.parking.refresh_metric(session)
        return succeeded

    def _decode(self, record: ConsumerRecord) -> EventEnvelope:
        """The record's envelope, or SkippedMessage when there is nothing to handle."""
        try:
            envelope = EventEnvelope.model_validate(json.loads(record.value))
        except (TypeError, ValueError, ValidationError) as exc:  # TypeError: a null value (tombstone)
            # A malformed message can never succeed; retrying would block the partition forever.
            raise SkippedMessage(MALFORMED, str(exc)[:500]) from exc
        if not inbox.storable_event_type(envelope.type):
            raise SkippedMessage(MALFORMED, "event type the inbox cannot store")
        if self.spec.event_types is not None and envelope.type not in self.spec.event_types:
            raise SkippedMessage(IGNORED)
        return envelope

    def _skipped(self, record: ConsumerRecord, skip: SkippedMessage) -> None:
        CONSUMER_PROCESSED.labels(self.service, self.spec.name, skip.outcome).inc()
        if skip.outcome == MALFORMED:
            log.error("consumer_malformed_event", consumer=self.group_id, topic=record.topic,
                      partition=record.partition, offset=record.offset, error=skip.detail)

    async def process(self, record: ConsumerRecord | StoredRecord, parked_key: str | None = None) -> None:
        """Handle one record in one transaction with its inbox row (and, for a parked one, its release)."""
        try:
            envelope = self._decode(record)
        except SkippedMessage as skip:
            self._skipped(record, skip)
            return
        token = correlation_id_var.set(envelope.correlation_id)
        try:
            async with self.sessionmaker() as session:
                if not await inbox.record(session, self.spec.name, envelope, record):
                    CONSUMER_PROCESSED.labels(self.service, self.spec.name, "duplicate").inc()
                    if parked_key is not None:
                        await session.rollback()
                        await self.parking.release(session, parked_key)
                        await session.commit()
                    return
                try:
                    await self.spec.handle_one(session, envelope)
                except ValidationError as exc:
                    # The payload breaks the contract the handler reads it with: no retry can fix that,
                    # and retrying would block the partition. Record it as handled (so it is not retried
                    # on redelivery either) and say so loudly; the rest of the handler's work is rolled back.
                    await session.rollback()
                    await self._reject(envelope, record, exc, parked_key)
                    return
                if parked_key is not None:
                    await self.parking.release(session, parked_key)
                await session.commit()
            CONSUMER_PROCESSED.labels(self.service, self.spec.name, "processed").inc()
        finally:
            correlation_id_var.reset(token)

    async def process_batch(self, records: Sequence[ConsumerRecord]) -> None:
        """Handle one partition's records in one transaction with their inbox rows (`batch_handler` consumers).

        Raises whatever the batch handler raised, a contract's ValidationError included, with
        nothing committed and nothing counted: the caller then processes the records one by one.
        """
        assert self.spec.batch_handler is not None
        items: list[tuple[EventEnvelope, ConsumerRecord]] = []
        skipped: list[tuple[ConsumerRecord, SkippedMessage]] = []
        for record in records:
            try:
                items.append((self._decode(record), record))
            except SkippedMessage as skip:
                skipped.append((record, skip))
        fresh: list[EventEnvelope] = []
        if items:
            async with self.sessionmaker() as session:
                fresh = await inbox.record_many(session, self.spec.name, items)
                if fresh:
                    await self.spec.batch_handler(session, fresh)
                await session.commit()
        for record, skip in skipped:
            self._skipped(record, skip)
        CONSUMER_PROCESSED.labels(self.service, self.spec.name, "processed").inc(len(fresh))
        if len(items) > len(fresh):
            CONSUMER_PROCESSED.labels(self.service, self.spec.name, "duplicate").inc(len(items) - len(fresh))

    async def _reject(self, envelope: EventEnvelope, record: ConsumerRecord | StoredRecord, exc: ValidationError,
                      parked_key: str | None = None) -> None:
        CONSUMER_PROCESSED.labels(self.service, self.spec.name, "rejected").inc()
        log.error("consumer_rejected_event", consumer=self.group_id, event_id=str(envelope.id),
                  event_type=envelope.type, topic=record.topic, partition=record.partition,
                  offset=record.offset, error=str(exc)[:1000])
        async with self.sessionmaker() as session:
            await inbox.record(session, self.spec.name, envelope, record)
            if parked_key is not None:
                await self.parking.release(session, parked_key)
            await session.commit()

    async def _report_lag(self, tp: TopicPartition) -> None:
        highwater = self._consumer.highwater(tp)
        if highwater is None:
            return
        with contextlib.suppress(Exception):
            position = await self._consumer.position(tp)
            CONSUMER_LAG.labels(self.service, self.spec.name, tp.topic, str(tp.partition)).set(
                max(0, highwater - position)
            )
