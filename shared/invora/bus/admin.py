"""Explicit topic creation at start-up (and again when the broker lost them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
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
        await create_missing_topics(admin, missing, partitions, replication_factor)
    finally:
        await admin.close()


async def create_missing_topics(
    admin: AIOKafkaAdminClient, missing: Sequence[str], partitions: int, replication_factor: int
) -> None:
    if not missing:
        return
    try:
        await admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=replication_factor) for t in missing]
        )
    except TopicAlreadyExistsError:
        pass  # another service created them between our list and create
