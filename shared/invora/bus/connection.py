"""The service's link to Kafka: topics ensured and producer started, retried in the background.

A service starts (and answers /health) even while the broker is unreachable; /ready says
so, and the relay publishes once the link is up.

Once connected it keeps watching the broker (every `watch_interval` seconds, one metadata
request): when the cluster it answers for is not the one it was (a new cluster id: the embedded
broker after a restart, a cluster rebuilt from scratch), or topics it created are gone, or (every
`probe_interval` seconds) the last record it published to a partition is no longer there (the
broker says the offset is out of range, or holds another event there: a log truncated by an
unclean leader election, a topic deleted and recreated), the broker has lost events that were
published but perhaps not yet consumed. It then recreates the topics,
bumps `epoch` and calls the `on_replaced` listeners: the outbox relay republishes every event its
outbox still holds, and consumers read their topics again from the beginning (the inbox makes
both harmless for what was already handled). aiokafka's producer and consumers reconnect by
themselves; the watch's own admin client is rebuilt after any error.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import OffsetOutOfRangeError

from invora.bus.admin import create_missing_topics
from invora.bus.kafka_config import KafkaClientConfig
from invora.bus.producer import EventProducer, OutgoingMessage
from invora.logging import get_logger

log = get_logger(__name__)


class BrokerConnection:
    def __init__(
        self, kafka: str | KafkaClientConfig, *, client_id: str, topics: Sequence[str], partitions: int,
        replication_factor: int, watch_interval: float = 1.0, probe_interval: float = 10.0,
    ) -> None:
        self.kafka = KafkaClientConfig.of(kafka)
        self.bootstrap_servers = self.kafka.bootstrap_servers
        self.client_id = client_id
        self.topics = tuple(topics)
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.producer = EventProducer(self.kafka, client_id)
        self.watch_interval = watch_interval
        self.probe_interval = probe_interval
        # per (topic, partition): (offset, event id) of the last record the broker acknowledged to us
        self._last_acked: dict[tuple[str, int], tuple[int, str]] = {}
        self._probed_at = 0.0
        self.cluster_id: str | None = None
        self.epoch = 0  # +1 each time the broker is found replaced or emptied (see the module docstring)
        self._listeners: list[Callable[[], None]] = []
        self._admin: AIOKafkaAdminClient | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Connect in the background; wait up to `wait_seconds` for the first success."""
        self._task = asyncio.create_task(self._connect_forever(), name="broker-connect")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._connected.wait()), wait_seconds)

    def on_replaced(self, listener: Callable[[], None]) -> None:
        """Call `listener` (synchronously, keep it short) each time the broker is found replaced."""
        self._listeners.append(listener)

    async def stop(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._close_admin()
        await self.producer.stop()

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.check()
                await self.producer.start()
                self._connected.set()
                log.info("broker_connected", bootstrap_servers=self.bootstrap_servers, cluster_id=self.cluster_id)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep trying; /ready reports the outage
                log.warning("broker_unreachable", bootstrap_servers=self.bootstrap_servers, error=repr(exc),
                            retry_in=delay)
                await self._close_admin()
                await self.producer.stop()
                self.producer = EventProducer(self.kafka, self.client_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        await self._watch_forever()

    async def _watch_forever(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.watch_interval)
            try:
                await self.check()
                if failing:
                    log.info("broker_reachable_again", bootstrap_servers=self.bootstrap_servers)
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker is away: look again later
                if not failing:
                    log.warning("broker_check_failed", bootstrap_servers=self.bootstrap_servers, error=repr(exc))
                failing = True
                await self._close_admin()

    async def check(self) -> None:
        """One look at the broker: topics ensured, cluster identity compared with the last one seen."""
        if self._admin is None:
            admin = self.kafka.admin(request_timeout_ms=10_000, client_id=f"{self.client_id}-watch")
            await admin.start()
            self._admin = admin
        cluster_id = (await self._admin.describe_cluster()).get("cluster_id")
        existing = set(await self._admin.list_topics())
        missing = [t for t in self.topics if t not in existing]
        if missing:
            await create_missing_topics(self._admin, missing, self.partitions, self.replication_factor)
        known = self.cluster_id
        self.cluster_id = cluster_id
        if known is None:
            return  # the first look: nothing to compare with
        lost = False
        if cluster_id == known and not missing and time.monotonic() - self._probed_at >= self.probe_interval:
            self._probed_at = time.monotonic()
            lost = await self._published_records_lost()
        if cluster_id != known or missing or lost:
            self._last_acked.clear()  # offsets of a log that is gone
            self.epoch += 1
            log.warning("broker_replaced", bootstrap_servers=self.bootstrap_servers, cluster_id=cluster_id,
                        previous_cluster_id=known, missing_topics=len(missing), published_records_lost=lost,
                        epoch=self.epoch)
            for listener in self._listeners:
                listener()

    async def _published_records_lost(self, timeout: float = 3.0) -> bool:
        """Read back the last record published to each partition: False when every answer matches, or
        when the broker does not answer in time (inconclusive: looked at again at the next probe)."""
        expected = dict(self._last_acked)
        if not expected:
            return False
        probe = self.kafka.consumer(group_id=None, enable_auto_commit=False, auto_offset_reset="none",
                                    fetch_max_wait_ms=100, client_id=f"{self.client_id}-probe")
        await probe.start()
        try:
            partitions = {TopicPartition(topic, partition): acked for (topic, partition), acked in expected.items()}
            probe.assign(list(partitions))
            for tp, (offset, _event_id) in partitions.items():
                probe.seek(tp, offset)
            pending = set(partitions)
            deadline = time.monotonic() + timeout
            while pending and time.monotonic() < deadline:
                try:
                    batches = await probe.getmany(*pending, timeout_ms=500, max_records=1)
                except OffsetOutOfRangeError as exc:
                    log.warning("broker_published_record_gone", partitions=str(exc)[:300])
                    return True
                for tp, records in batches.items():
                    if not records:
                        continue
                    pending.discard(tp)
                    offset, event_id = partitions[tp]
                    record = records[0]
                    if record.offset != offset or dict(record.headers or ()).get("event_id") != event_id.encode():
                        log.warning("broker_published_record_replaced", topic=tp.topic, partition=tp.partition,
                                    offset=offset, found_offset=record.offset)
                        return True
            return False
        finally:
            with contextlib.suppress(Exception):
                await probe.stop()

    async def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not self.connected:
            raise ConnectionError(f"Kafka at {self.bootstrap_servers} is not connected yet")
        epoch = self.epoch
        landed = await self.producer.publish(messages)
        if epoch == self.epoch:  # not offsets of a log found gone meanwhile
            for message, metadata in zip(messages, landed, strict=True):
                self._last_acked[(metadata.topic, metadata.partition)] = (metadata.offset, message.event_id)
