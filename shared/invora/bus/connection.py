"""The service's link to Kafka: topics ensured and producer started, retried in the background.

A service starts (and answers /health) even while the broker is unreachable; /ready says
so, and the relay publishes once the link is up.

Once connected it keeps watching the broker (every `watch_interval` seconds, one metadata
request): when the cluster it answers for is not the one it was (a new cluster id: the embedded
broker after a restart, a cluster rebuilt from scratch) or topics it created are gone, the broker
has lost events that were published but perhaps not yet consumed. It then recreates the topics,
bumps `epoch` and calls the `on_replaced` listeners: the outbox relay republishes every event its
outbox still holds, and consumers read their topics again from the beginning (the inbox makes
both harmless for what was already handled). aiokafka's producer and consumers reconnect by
themselves; the watch's own admin client is rebuilt after any error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from aiokafka.admin import AIOKafkaAdminClient

from invora.bus.admin import create_missing_topics
from invora.bus.kafka_config import KafkaClientConfig
from invora.bus.producer import EventProducer, OutgoingMessage
from invora.logging import get_logger

log = get_logger(__name__)


class BrokerConnection:
    def __init__(
        self, kafka: str | KafkaClientConfig, *, client_id: str, topics: Sequence[str], partitions: int,
        replication_factor: int, watch_interval: float = 1.0,
    ) -> None:
        self.kafka = KafkaClientConfig.of(kafka)
        self.bootstrap_servers = self.kafka.bootstrap_servers
        self.client_id = client_id
        self.topics = tuple(topics)
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.producer = EventProducer(self.kafka, client_id)
        self.watch_interval = watch_interval
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
        if cluster_id != known or missing:
            self.epoch += 1
            log.warning("broker_replaced", bootstrap_servers=self.bootstrap_servers, cluster_id=cluster_id,
                        previous_cluster_id=known, missing_topics=len(missing), epoch=self.epoch)
            for listener in self._listeners:
                listener()

    async def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not self.connected:
            raise ConnectionError(f"Kafka at {self.bootstrap_servers} is not connected yet")
        await self.producer.publish(messages)
