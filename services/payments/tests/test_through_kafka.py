"""End to end through the broker: `customer.created` and `invoice.finalized` published by producers' outboxes
reach the payments consumers; the running charger charges localstripe once; the same event published again
(another event id, as a replay would) charges nothing more."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from invora.outbox import add_event

CONSUMERS = True
CHARGER = True


class Producer:
    def __init__(self, database) -> None:
        self.database = database

    async def emit(self, envelope) -> None:
        async with self.database.sessionmaker() as session:
            await add_event(session, type=envelope.type, organization_id=envelope.organization_id,
                            aggregate_type=envelope.aggregate_type, aggregate_id=envelope.aggregate_id,
                            data=envelope.data, source=envelope.source)
            await session.commit()


@pytest.fixture(scope="module")
async def producer(migrated_database, invora_kafka) -> AsyncIterator[Producer]:
    from invora.bus.connection import BrokerConnection
    from invora.db.engine import Database
    from invora.events.topics import ALL_TOPICS
    from invora.outbox.relay import OutboxRelay

    database = Database(migrated_database("payments"))
    broker = BrokerConnection(invora_kafka, client_id="test-producer", topics=ALL_TOPICS, partitions=3,
                              replication_factor=1)
    await broker.start()
    relay = OutboxRelay(database.asyncpg_dsn, broker, service="test-producer", poll_interval=0.1)
    await relay.start()
    try:
        yield Producer(database)
    finally:
        await relay.stop()
        await broker.stop()
        await database.dispose()


async def _payments_for(stage, invoice_id, timeout=45.0) -> list[dict]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        payments = (await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}"))["payments"]
        if payments and all(p["payment_status"] == "succeeded" for p in payments):
            return payments
        await asyncio.sleep(0.2)
    raise AssertionError(f"invoice {invoice_id} was not charged")


async def test_a_finalized_invoice_published_on_the_bus_is_charged_once(payments, stage, producer):
    customer, customer_created = stage.customer_event()
    await producer.emit(customer_created)
    envelope = stage.invoice_event(customer, 4_321)
    await producer.emit(envelope)
    [payment] = await _payments_for(stage, envelope.aggregate_id)
    assert payment["amount_cents"] == 4_321 and payment["provider_customer_id"] == customer["provider_customer_id"]
    await producer.emit(envelope)  # published again: a new event id, the same invoice
    await asyncio.sleep(3)
    assert len(await _payments_for(stage, envelope.aggregate_id)) == 1
    assert [c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])] == [4_321]
    async with payments.database.sessionmaker() as session:
        from payments.customers import repository

        row = await repository.by_id(session, stage.org, uuid.UUID(customer["lago_id"]))
    assert row["last_sequence"] >= 1 and row["payment_provider_code"] == stage.provider_code
