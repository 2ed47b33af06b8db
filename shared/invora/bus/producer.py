"""The Kafka producer the outbox relay publishes with."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka.structs import RecordMetadata

from invora.bus.kafka_config import KafkaClientConfig


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    key: str
    value: bytes
    event_type: str
    event_id: str


class Publisher(Protocol):
    async def publish(self, messages: Sequence[OutgoingMessage]) -> None: ...


class EventProducer:
    def __init__(self, kafka: str | KafkaClientConfig, client_id: str) -> None:
        self.kafka = KafkaClientConfig.of(kafka)
        self.bootstrap_servers = self.kafka.bootstrap_servers
        self._producer = self.kafka.producer(
            client_id=client_id,
            acks="all",
            # Idempotent producers need InitProducerId, which not every Kafka-protocol broker
            # has; duplicates are harmless anyway because consumers de-duplicate by event id.
            enable_idempotence=False,
            linger_ms=2,
            max_batch_size=256 * 1024,
            request_timeout_ms=15_000,
        )
        self.started = False

    async def start(self) -> None:
        await self._producer.start()
        self.started = True

    async def stop(self) -> None:
        if self.started:
            await self._producer.stop()
            self.started = False

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[RecordMetadata]:
        """Send every message and wait until the broker acknowledged each one (acks=all); where each landed."""
        futures = [
            await self._producer.send(
                m.topic,
                value=m.value,
                key=m.key.encode(),
                headers=[("event_type", m.event_type.encode()), ("event_id", m.event_id.encode())],
            )
            for m in messages
        ]
        return list(await asyncio.gather(*futures))

    async def check(self, timeout: float = 2.0) -> None:
        """Raise unless the broker answers a metadata request."""
        ok = await asyncio.wait_for(self._producer.client.force_metadata_update(), timeout)
        if not ok:
            raise ConnectionError(f"Kafka at {self.bootstrap_servers} did not answer")
