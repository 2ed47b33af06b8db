"""The service's link to Kafka: topics ensured and producer started, retried in the background.

A service starts (and answers /health) even while the broker is unreachable; /ready says
so, and the relay publishes once the link is up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from invora.bus.admin import ensure_topics
from invora.bus.kafka_config import KafkaClientConfig
from invora.bus.producer import EventProducer, OutgoingMessage
from invora.logging import get_logger

log = get_logger(__name__)


class BrokerConnection:
    def __init__(
        self, kafka: str | KafkaClientConfig, *, client_id: str, topics: Sequence[str], partitions: int,
        replication_factor: int,
    ) -> None:
        self.kafka = KafkaClientConfig.of(kafka)
        self.bootstrap_servers = self.kafka.bootstrap_servers
        self.client_id = client_id
        self.topics = tuple(topics)
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.producer = EventProducer(self.kafka, client_id)
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

    async def stop(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.producer.stop()

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                await ensure_topics(self.kafka, self.topics, self.partitions, self.replication_factor)
                await self.producer.start()
                self._connected.set()
                log.info("broker_connected", bootstrap_servers=self.bootstrap_servers)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep trying; /ready reports the outage
                log.warning("broker_unreachable", bootstrap_servers=self.bootstrap_servers, error=repr(exc),
                            retry_in=delay)
                await self.producer.stop()
                self.producer = EventProducer(self.kafka, self.client_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not self.connected:
            raise ConnectionError(f"Kafka at {self.bootstrap_servers} is not connected yet")
        await self.producer.publish(messages)
