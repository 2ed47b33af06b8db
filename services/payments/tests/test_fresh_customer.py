"""A customer created a moment ago, whose `customer.created` has not reached payments yet: the routes naming it
ask the subscriptions service (`customers.get_or_fetch`, the shared `get_fresh` with payments' provider columns)
instead of answering 404 (Lago, with one database, never does). The classic flow: create the customer with its
Stripe connection, then at once ask for its checkout URL; or list the payment methods of a customer created with
an existing Stripe customer. A customer subscriptions does not know, another organization's, subscriptions down:
404 `customer_not_found` as before, never a 500, nothing stored."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from payments.runtime import subscriptions_client


async def test_routes_naming_a_customer_the_projection_has_not_heard_of(payments, stage, start_service, invora_keys):
    subscriptions = await start_service("subscriptions", relay_enabled=False, consumers_enabled=False,
                                        scheduler_enabled=False)
    runtime = payments.app.state.runtime
    settings = runtime.settings.model_copy(update={"service_signing_key": invora_keys.private_pem.decode(),
                                                   "subscriptions_url": "http://subscriptions.test"})
    runtime.subscriptions = subscriptions_client(settings, transport=httpx.ASGITransport(app=subscriptions.app))
    owner = subscriptions.client(stage.org)

    async def create(external_id: str, provider_customer_id: str | None = None, org_client=owner) -> dict:
        created = await org_client.post("/api/v1/customers", json={"customer": {
            "external_id": external_id, "name": "Acme", "email": "billing@acme.test", "currency": "EUR",
            "billing_configuration": {"payment_provider": "stripe", "payment_provider_code": stage.provider_code,
                                      "provider_customer_id": provider_customer_id}}})
        assert created.status_code == 200, created.text
        return created.json()["customer"]

    async def projected(org: uuid.UUID) -> list[tuple]:
        async with payments.database.sessionmaker() as session:
            return [tuple(r) for r in (await session.execute(text(
                "SELECT external_id, payment_provider_code, provider_customer_id, email, last_sequence "
                "FROM customers WHERE organization_id = :o ORDER BY external_id"), {"o": org})).all()]

    # create the customer with its Stripe connection, then at once its checkout URL
    fresh = await create("cus_fresh")
    answer = (await stage.ok("POST", "/api/v1/customers/cus_fresh/checkout_url"))["customer"]
    assert answer["lago_customer_id"] == fresh["lago_id"] and answer["payment_provider_code"] == stage.provider_code
    session = stage.stripe.v1.checkout.sessions.retrieve(answer["checkout_url"].rsplit("/", 1)[-1])
    assert session.mode == "setup" and session.customer.startswith("cus_")
    assert await projected(stage.org) == [("cus_fresh", stage.provider_code, None, "billing@acme.test", 0)]

    # created with an existing Stripe customer holding a card: its methods listed at once (the provider's id
    # came with the fetched customer)
    await create("cus_card", provider_customer_id=stage.stripe_customer())
    methods = (await stage.ok("GET", "/api/v1/customers/cus_card/payment_methods"))["payment_methods"]
    assert [(m["last4"], m["payment_provider_code"]) for m in methods] == [("4242", stage.provider_code)]

    # subscriptions does not know it: 404, nothing stored
    for method, path in (("POST", "/api/v1/customers/nobody/checkout_url"),
                         ("GET", "/api/v1/customers/nobody/payment_methods")):
        body = await stage.error(method, path, status=404)
        assert body["code"] == "customer_not_found"
    # another organization's customer: the fetch is scoped by organization
    other_org = uuid.uuid4()
    await create("cus_elsewhere", org_client=subscriptions.client(other_org))
    for method, path in (("POST", "/api/v1/customers/cus_elsewhere/checkout_url"),
                         ("GET", "/api/v1/customers/cus_elsewhere/payment_methods")):
        body = await stage.error(method, path, status=404)
        assert body["code"] == "customer_not_found"
    assert [row[0] for row in await projected(stage.org)] == ["cus_card", "cus_fresh"]
    assert await projected(other_org) == []

    # subscriptions down: the 404 as before, not a 500
    runtime.subscriptions = subscriptions_client(settings.model_copy(update={
        "subscriptions_url": "http://127.0.0.1:9", "subscriptions_timeout_seconds": 0.5, "subscriptions_retries": 0}))
    await create("cus_late")
    for method, path in (("POST", "/api/v1/customers/cus_late/checkout_url"),
                         ("GET", "/api/v1/customers/cus_late/payment_methods")):
        body = await stage.error(method, path, status=404)
        assert body["code"] == "customer_not_found"
    assert "cus_late" not in [row[0] for row in await projected(stage.org)]
