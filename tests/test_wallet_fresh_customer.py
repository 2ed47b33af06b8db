"""A wallet created a moment after its customer, before `customer.created` reached the wallets service: the
customer is asked of subscriptions (`invora.customer_projection.service.get_fresh`) instead of answering 404
(Lago, with one database, never does). The same race `scripts/money_journey.py` hit for applied coupons;
subscriptions unreachable, or not knowing the customer either: Lago's 404, nothing stored."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
from sqlalchemy import text


async def test_a_wallet_for_a_customer_the_projection_has_not_heard_of(start_service, live_service, invora_keys):
    org = uuid.uuid4()
    # its customer events never reach wallets: the projection stays empty
    subscriptions_url = live_service("subscriptions", relay_enabled=False, consumers_enabled=False,
                                     scheduler_enabled=False)
    wallets = await start_service("wallets", consumers_enabled=False, scheduler_enabled=False,
                                  subscriptions_url="http://127.0.0.1:9", subscriptions_timeout_seconds=0.5,
                                  subscriptions_retries=0, service_signing_key=invora_keys.private_pem.decode())
    async with httpx.AsyncClient(base_url=subscriptions_url, headers={
            "Authorization": f"Bearer {invora_keys.sign(org, ['admin'])}"}) as subscriptions:
        created = await subscriptions.post("/api/v1/customers", json={"customer": {
            "external_id": "cus_new", "name": "Acme", "currency": "EUR"}})
    assert created.status_code == 200, created.text
    api = wallets.client(org)
    body = {"wallet": {"external_customer_id": "cus_new", "rate_amount": "1", "currency": "EUR",
                       "granted_credits": "5"}}

    async def projected() -> int:
        async with wallets.database.sessionmaker() as session:
            return (await session.execute(text("SELECT count(*) FROM customers WHERE organization_id = :o"),
                                          {"o": org})).scalar_one()

    refused = await api.post("/api/v1/wallets", json=body)  # subscriptions unreachable
    assert refused.status_code == 404 and refused.json()["code"] == "customer_not_found", refused.text
    assert await projected() == 0

    runtime = wallets.app.state.runtime
    runtime.settings = runtime.settings.model_copy(update={"subscriptions_url": subscriptions_url})
    nobody = await api.post("/api/v1/wallets", json={"wallet": {**body["wallet"], "external_customer_id": "nobody"}})
    assert nobody.status_code == 404 and nobody.json()["code"] == "customer_not_found", nobody.text
    made = await api.post("/api/v1/wallets", json=body)
    assert made.status_code == 200, made.text
    wallet = made.json()["wallet"]
    assert wallet["external_customer_id"] == "cus_new"
    assert wallet["lago_customer_id"] == created.json()["customer"]["lago_id"]
    assert Decimal(wallet["credits_balance"]) == 5
    assert await projected() == 1
    # the customer's event arriving later still applies (the fetched row has sequence 0)
    async with wallets.database.sessionmaker() as session:
        assert (await session.execute(text("SELECT last_sequence FROM customers WHERE organization_id = :o"),
                                      {"o": org})).scalar_one() == 0
    other = await wallets.client(uuid.uuid4()).post("/api/v1/wallets", json=body)
    assert other.status_code == 404, other.text
