"""Explicit topic creation at start-up."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from invora.bus.kafka_config import KafkaClientConfig


async def ensure_topics(
    kafka: str | KafkaClientConfig, topics: Iterable[str], partitions: int = 3, replication_factor: int = 1
) -> None:
    admin = KafkaClientConfig.of(kafka).admin(request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        try:
            await admin.create_topics(
                [NewTopic(t, num_partitions=partitions, replication_factor=replication_factor) for t in missing]
            )
        except TopicAlreadyExistsError:
            pass  # another service created them between our list and create
    finally:
        await admin.close()
