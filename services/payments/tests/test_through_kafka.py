"""End to end through the broker: `customer.created` and `invoice.finalized` published by producers' outboxes
reach the payments consumers; the running charger charges localstripe once; the same event published again
(another event id, as a replay would) charges nothing more."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from invora.testing.producer import Producer, running_producer

CONSUMERS = True
CHARGER = True


@pytest.fixture(scope="module")
async def producer(migrated_database, invora_kafka) -> AsyncIterator[Producer]:
    async with running_producer(migrated_database("payments"), invora_kafka) as running:
        yield running


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
    await producer.emit_envelope(customer_created)
    envelope = stage.invoice_event(customer, 4_321)
    await producer.emit_envelope(envelope)
    [payment] = await _payments_for(stage, envelope.aggregate_id)
    assert payment["amount_cents"] == 4_321 and payment["provider_customer_id"] == customer["provider_customer_id"]
    await producer.emit_envelope(envelope)  # published again: a new event id, the same invoice
    await asyncio.sleep(3)
    assert len(await _payments_for(stage, envelope.aggregate_id)) == 1
    assert [c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])] == [4_321]
    async with payments.database.sessionmaker() as session:
        from payments.customers import repository

        row = await repository.by_id(session, stage.org, uuid.UUID(customer["lago_id"]))
    assert row["last_sequence"] >= 1 and row["payment_provider_code"] == stage.provider_code
