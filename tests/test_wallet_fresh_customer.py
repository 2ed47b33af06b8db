"""A wallet created a moment after its customer, before `customer.created` reached the wallets service: the
customer is asked of subscriptions (`invora.customer_projection.service.get_fresh`) instead of answering 404
(Lago, with one database, never does). The same race `scripts/money_journey.py` hit for applied coupons;
subscriptions unreachable, or not knowing the customer either: Lago's 404, nothing stored."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
from sqlalchemy import text

from wallets.usage.client import usage_client


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
    runtime.subscriptions = usage_client(runtime.settings.model_copy(update={"subscriptions_url": subscriptions_url}))
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


async def test_every_wallets_route_naming_a_customer_asks_subscriptions(start_service, live_service, invora_keys):
    """Unit credits, manual and usage credits, the credit view, the balance history and the wallet lists, each
    right after the customer was created: answered, not 404; a customer subscriptions does not know, another
    organization's customer, subscriptions down: 404 `customer_not_found` as before (never a 500)."""
    org, other_org = uuid.uuid4(), uuid.uuid4()
    subscriptions_url = live_service("subscriptions", relay_enabled=False, consumers_enabled=False,
                                     scheduler_enabled=False)
    wallets = await start_service("wallets", consumers_enabled=False, scheduler_enabled=False,
                                  subscriptions_url=subscriptions_url, subscriptions_timeout_seconds=2,
                                  subscriptions_retries=0, service_signing_key=invora_keys.private_pem.decode())
    for organization in (org, other_org):
        async with httpx.AsyncClient(base_url=subscriptions_url, headers={
                "Authorization": f"Bearer {invora_keys.sign(organization, ['admin'])}"}) as subscriptions:
            for external_id in (f"cus_{n}" for n in range(7)):
                created = await subscriptions.post("/api/v1/customers", json={"customer": {
                    "external_id": external_id, "name": "Acme", "currency": "EUR"}})
                assert created.status_code == 200, created.text
    async with httpx.AsyncClient(base_url=subscriptions_url, headers={
            "Authorization": f"Bearer {invora_keys.sign(org, ['admin'])}"}) as subscriptions:
        solo = await subscriptions.post("/api/v1/customers", json={"customer": {"external_id": "solo", "name": "S"}})
        assert solo.status_code == 200, solo.text
    api = wallets.client(org)

    granted = await api.post("/api/v1/customers/cus_0/unit_credits", json={"unit_credit": {
        "billable_metric_code": "api_calls", "units": "10000", "reason": "welcome"}})
    assert granted.status_code == 200, granted.text
    assert granted.json()["unit_credit"]["external_customer_id"] == "cus_0"
    listed = await api.get("/api/v1/customers/cus_1/unit_credits")
    assert listed.status_code == 200 and listed.json()["unit_credits"] == [], listed.text
    applied = await api.post("/api/v1/unit_credits/applications", json={"unit_credit_application": {
        "external_customer_id": "cus_2", "lago_invoice_id": str(uuid.uuid4()), "billable_metric_code": "api_calls",
        "units": "5"}})
    assert applied.status_code == 200 and Decimal(applied.json()["unit_credit_application"]["applied_units"]) == 0, \
        applied.text
    credit = await api.post("/api/v1/customers/cus_3/credits", json={"credit": {
        "amount_cents": 500, "currency": "EUR", "reason": "goodwill"}})
    assert credit.status_code == 200, credit.text
    view = await api.get("/api/v1/customers/cus_4/credits")
    assert view.status_code == 200 and view.json()["credits"] == [], view.text
    history = await api.get("/api/v1/customers/cus_5/balance_history")
    assert history.status_code == 200 and history.json()["balance_history"] == [], history.text
    for path in ("/api/v1/customers/cus_6/wallets", "/api/v1/wallets?external_customer_id=cus_6"):
        page = await api.get(path)
        assert page.status_code == 200 and page.json()["wallets"] == [], page.text
    async with wallets.database.sessionmaker() as session:
        projected = (await session.execute(text(
            "SELECT external_id FROM customers WHERE organization_id = :o ORDER BY external_id"),
            {"o": org})).scalars().all()
    assert projected == [f"cus_{n}" for n in range(7)]  # stored as the events would have (with sequence 0)

    # subscriptions does not know it: 404, nothing stored
    for response in (await api.get("/api/v1/customers/nobody/unit_credits"),
                     await api.get("/api/v1/customers/nobody/credits"),
                     await api.post("/api/v1/customers/nobody/credits", json={"credit": {
                         "amount_cents": 500, "currency": "EUR", "reason": "goodwill"}})):
        assert response.status_code == 404 and response.json()["code"] == "customer_not_found", response.text
    # another organization's customer of the same external id is not this organization's (the fetch is scoped)
    stranger = wallets.client(other_org)
    for response in (await stranger.get("/api/v1/customers/solo/unit_credits"),
                     await stranger.get("/api/v1/customers/solo/credits")):
        assert response.status_code == 404 and response.json()["code"] == "customer_not_found", response.text

    # subscriptions down: the 404 as before, not a 500
    runtime = wallets.app.state.runtime
    runtime.subscriptions = usage_client(runtime.settings.model_copy(update={
        "subscriptions_url": "http://127.0.0.1:9", "subscriptions_timeout_seconds": 0.5}))
    other = wallets.client(other_org)
    for response in (await other.get("/api/v1/customers/cus_0/unit_credits"),
                     await other.post("/api/v1/customers/cus_0/unit_credits", json={"unit_credit": {
                         "billable_metric_code": "api_calls", "units": "1", "reason": "welcome"}}),
                     await other.get("/api/v1/customers/cus_0/balance_history")):
        assert response.status_code == 404 and response.json()["code"] == "customer_not_found", response.text
    async with wallets.database.sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM customers WHERE organization_id = :o"),
                                      {"o": other_org})).scalar_one() == 0
