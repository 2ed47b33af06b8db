"""Another service's outbox, for consumer tests: events written in a committed transaction with `add_event`
and published by a real relay, exactly as a producing service does.

    async with running_producer(migrated_database("wallets"), invora_kafka) as producer:
        await producer.emit(org, "customer.created", data={...}, aggregate_id=str(customer_id))
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from invora.bus.connection import BrokerConnection
from invora.db.engine import Database
from invora.events.envelope import EventEnvelope
from invora.events.topics import ALL_TOPICS
from invora.outbox import add_event
from invora.outbox.relay import OutboxRelay


class Producer:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def emit(
        self, organization_id: uuid.UUID, type: str, *, data: dict | None = None, aggregate_type: str | None = None,
        aggregate_id: str | None = None, correlation_id: str | None = None, source: str = "producer",
    ) -> EventEnvelope:
        """Write one event (aggregate type: the type's prefix unless given) and commit; returns its envelope."""
        async with self.database.sessionmaker() as session:
            envelope = await add_event(
                session, type=type, organization_id=organization_id,
                aggregate_type=aggregate_type or type.split(".", 1)[0], aggregate_id=aggregate_id or str(uuid.uuid4()),
                data=data if data is not None else {"lago_id": str(uuid.uuid4())},
                correlation_id=correlation_id, source=source,
            )
            await session.commit()
        return envelope

    async def emit_envelope(self, envelope: EventEnvelope) -> EventEnvelope:
        """Publish what an envelope built elsewhere says (a new event id, as a replay by its producer would have)."""
        return await self.emit(envelope.organization_id, envelope.type, data=envelope.data,
                               aggregate_type=envelope.aggregate_type, aggregate_id=envelope.aggregate_id,
                               source=envelope.source)


@contextlib.asynccontextmanager
async def running_producer(database_url: str, kafka: str) -> AsyncIterator[Producer]:
    """A producer on `database_url` (any migrated service database has the outbox tables) with its relay running."""
    database = Database(database_url)
    broker = BrokerConnection(kafka, client_id="test-producer", topics=ALL_TOPICS, partitions=3, replication_factor=1)
    await broker.start()
    relay = OutboxRelay(database.asyncpg_dsn, broker, service="test-producer", poll_interval=0.1)
    await relay.start()
    try:
        yield Producer(database)
    finally:
        await relay.stop()
        await broker.stop()
        await database.dispose()
