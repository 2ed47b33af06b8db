"""The customers projection: fed by the real subscriptions service through Kafka; stale and repeated events
change nothing; a deleted customer frees its external id."""

import asyncio
import uuid

from invora.testing.services import run_service
from wallets.customers import service as customers

CONSUMERS = True


async def _wait_for_customer(wallets, org, external_id, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with wallets.database.sessionmaker() as session:
            row = await customers.find(session, org, external_id)
        if row is not None:
            return row
        await asyncio.sleep(0.2)
    raise AssertionError(f"customer {external_id} never reached the wallets projection")


async def test_a_customer_created_in_subscriptions_can_hold_wallets(wallets, org, make_api, migrated_database,
                                                                    invora_kafka, invora_keys):
    async with run_service("subscriptions", database_url=migrated_database("subscriptions"), kafka=invora_kafka,
                           keys=invora_keys, scheduler_enabled=False, consumers_enabled=False) as subscriptions:
        client = subscriptions.client(org)
        response = await client.post("/api/v1/customers", json={"customer": {
            "external_id": "acme", "name": "Acme", "currency": "EUR"}})
        assert response.status_code == 200, response.text
        row = await _wait_for_customer(wallets, org, "acme")
    assert str(row["id"]) == response.json()["customer"]["lago_id"] and row["currency"] == "EUR"
    api = make_api(org)
    wallet = await api.wallet("acme", granted_credits="1")
    assert wallet["lago_customer_id"] == response.json()["customer"]["lago_id"]


async def test_older_or_repeated_events_do_not_roll_the_projection_back(wallets, org, make_customer_event):
    customer_event = make_customer_event
    lago_id = uuid.uuid4()
    async with wallets.database.sessionmaker() as session:
        assert await customers.apply_event(session, customer_event(org, "v2", lago_id=lago_id, sequence=2,
                                                                   currency="USD", type="customer.updated"))
        assert not await customers.apply_event(session, customer_event(org, "v1", lago_id=lago_id, sequence=1))
        assert not await customers.apply_event(session, customer_event(org, "v2", lago_id=lago_id, sequence=2))
        await session.commit()
        row = await customers.find(session, org, "v2")
    assert row is not None and row["currency"] == "USD" and await _absent(wallets, org, "v1")


async def test_a_deleted_customer_frees_its_external_id(wallets, org, make_customer_event):
    customer_event = make_customer_event
    first, second = uuid.uuid4(), uuid.uuid4()
    async with wallets.database.sessionmaker() as session:
        await customers.apply_event(session, customer_event(org, "reused", lago_id=first))
        await customers.apply_event(session, customer_event(org, "reused", lago_id=first, sequence=2,
                                                            type="customer.deleted", deleted=True))
        await customers.apply_event(session, customer_event(org, "reused", lago_id=second))
        await session.commit()
        row = await customers.find(session, org, "reused")
    assert row is not None and row["id"] == second


async def _absent(wallets, org, external_id) -> bool:
    async with wallets.database.sessionmaker() as session:
        return await customers.find(session, org, external_id) is None


async def test_a_deleted_customer_s_wallets_are_terminated(wallets, org, make_api, make_customer_event, producer,
                                                          clock):
    api = make_api(org)
    lago_id = uuid.uuid4()
    created = make_customer_event(org, "leaving", lago_id=lago_id)
    await producer.emit(org, created.type, data=created.data, aggregate_type="customer", aggregate_id=str(lago_id))
    await _wait_for_customer(wallets, org, "leaving")
    wallet = await api.wallet("leaving", granted_credits="4")
    deleted = make_customer_event(org, "leaving", lago_id=lago_id, type="customer.deleted", deleted=True)
    await producer.emit(org, deleted.type, data=deleted.data, aggregate_type="customer", aggregate_id=str(lago_id))
    deadline = asyncio.get_running_loop().time() + 30
    while (current := await api.get_wallet(wallet["lago_id"]))["status"] != "terminated":
        assert asyncio.get_running_loop().time() < deadline, current
        await asyncio.sleep(0.2)
    assert current["balance_cents"] == 0
