"""Wallets' events reach tenants as webhooks: the wallets service's outbox → Kafka → the notifications fan-out →
a signed delivery to the tenant's endpoint, in Lago's webhook shape."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx

from invora.events.envelope import EventEnvelope
from wallets.customers import service as customers

WANTED = ["wallet.created", "wallet_transaction.created", "credits.granted", "credits.balance_depleted",
          "wallet.terminated"]


def _customer_created(org: uuid.UUID, external_id: str) -> EventEnvelope:
    lago_id, now = uuid.uuid4(), datetime.now(UTC).isoformat()
    customer = {"lago_id": str(lago_id), "sequential_id": 1, "slug": "CUS-1", "external_id": external_id,
                "currency": "EUR", "applicable_timezone": "UTC", "account_type": "customer",
                "finalize_zero_amount_invoice": "inherit", "skip_invoice_custom_sections": False,
                "billing_configuration": {}, "shipping_address": {}, "created_at": now, "updated_at": now}
    return EventEnvelope(type="customer.created", source="subscriptions", organization_id=org,
                         aggregate_type="customer", aggregate_id=str(lago_id), sequence=1, data={"customer": customer})


async def test_wallet_events_are_delivered_as_webhooks(live_service, start_service, make_api_key, webhook_receiver):
    org = uuid.uuid4()
    key = make_api_key(org, ["admin"])
    notifications = live_service("notifications", dev_mode=True, consumer_session_timeout_ms=2_000)
    async with httpx.AsyncClient(base_url=notifications, headers={"Authorization": f"Bearer {key}"}) as client:
        response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {
            "webhook_url": webhook_receiver.url + "/hooks", "signature_algo": "hmac", "event_types": WANTED}})
        assert response.status_code == 200, response.text

    wallets = await start_service("wallets", scheduler_enabled=False, consumers_enabled=False)
    async with wallets.database.sessionmaker() as session:
        await customers.apply_event(session, _customer_created(org, "cus_hooks"))
        await session.commit()
    client = wallets.client(org)
    created = await client.post("/api/v1/wallets", json={"wallet": {
        "external_customer_id": "cus_hooks", "currency": "EUR", "rate_amount": "1", "granted_credits": "3"}})
    assert created.status_code == 200, created.text
    wallet_id = created.json()["wallet"]["lago_id"]
    assert (await client.delete(f"/api/v1/wallets/{wallet_id}")).status_code == 200

    # created, its grant (transaction + credits.granted), the termination's void (transaction + depleted), terminated
    deliveries = await webhook_receiver.wait_for(6, timeout=60)
    bodies = [json.loads(d.body) for d in deliveries]
    assert sorted(b["webhook_type"] for b in bodies) == sorted([
        "wallet.created", "wallet_transaction.created", "credits.granted", "wallet_transaction.created",
        "credits.balance_depleted", "wallet.terminated"])
    created_hook = next(b for b in bodies if b["webhook_type"] == "wallet.created")
    assert created_hook["object_type"] == "wallet" and created_hook["wallet"]["lago_id"] == wallet_id
    granted = next(b for b in bodies if b["webhook_type"] == "credits.granted")
    assert granted["credits"]["wallet_transaction"]["amount_cents"] == 300
