"""Routes naming a customer created a moment ago, whose `customer.created` has not reached invoicing yet: the
customer is asked of subscriptions (`projections/fresh.py`) instead of answering 404 (Lago, with one database,
never does): a one-off invoice, the customer's applied coupons (Lago's 200 and an empty list), a preview naming
the customer (its currency is the customer's). A customer subscriptions does not know, another organization's,
subscriptions down: the 404 as before, never a 500, nothing stored."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from invora.service_client import ServiceClient


def subscriptions_client(app, pem: str, url: str = "http://subscriptions.test", **kwargs) -> ServiceClient:
    return ServiceClient(base_url=url, subject="service:invoicing", issuer="invora", signing_key=pem,
                         transport=httpx.ASGITransport(app=app) if app is not None else None, **kwargs)


async def test_routes_naming_a_customer_the_projection_has_not_heard_of(world, api, make_api, inv, org,
                                                                       start_service, invora_keys):
    pem = invora_keys.private_pem.decode()
    subscriptions = await start_service("subscriptions", relay_enabled=False, consumers_enabled=False,
                                        scheduler_enabled=False)
    runtime = inv.app.state.runtime
    before = runtime.subscriptions
    runtime.subscriptions = subscriptions_client(subscriptions.app, pem)
    try:
        await world.add_on("setup", 10_000)
        plan = await world.plan(3_100, pay_in_advance=True)
        owner = subscriptions.client(org)

        async def create(external_id: str, currency: str = "EUR", client=owner) -> dict:
            created = await client.post("/api/v1/customers", json={"customer": {
                "external_id": external_id, "name": "Acme", "currency": currency}})
            assert created.status_code == 200, created.text
            return created.json()["customer"]

        async def projected(organization: uuid.UUID) -> list[str]:
            async with inv.database.sessionmaker() as session:
                return list((await session.execute(text(
                    "SELECT external_id FROM customers WHERE organization_id = :o ORDER BY external_id"),
                    {"o": organization})).scalars().all())

        one_off = await create("cus_one_off")
        invoice = (await api.ok("POST", "/api/v1/invoices", {"invoice": {
            "external_customer_id": "cus_one_off", "fees": [{"add_on_code": "setup"}]}}))["invoice"]
        assert invoice["customer"]["lago_id"] == one_off["lago_id"] and invoice["total_amount_cents"] == 10_000

        await create("cus_coupons")
        listed = await api.ok("GET", "/api/v1/customers/cus_coupons/applied_coupons")
        assert listed["applied_coupons"] == [] and listed["meta"]["total_count"] == 0

        await create("cus_dollars", currency="USD")  # the plan is in euros: the fetched customer's currency counts
        refused = await api.error("POST", "/api/v1/invoices/preview", {
            "customer": {"external_id": "cus_dollars"}, "plan_code": plan["code"]})
        assert refused["error_details"] == {"currency": ["currencies_does_not_match"]}
        await create("cus_euros")
        preview = (await api.ok("POST", "/api/v1/invoices/preview", {
            "customer": {"external_id": "cus_euros"}, "plan_code": plan["code"],
            "subscription_at": "2026-03-11T10:00:00Z"}))["invoice"]
        assert preview["fees_amount_cents"] == 2_100
        # fetched rows are kept with the request's commit (the refused preview's was rolled back with it)
        assert await projected(org) == ["cus_coupons", "cus_euros", "cus_one_off"]

        # subscriptions does not know it: 404, nothing stored
        body = await api.error("POST", "/api/v1/invoices", {"invoice": {
            "external_customer_id": "nobody", "fees": [{"add_on_code": "setup"}]}}, status=404)
        assert body["code"] == "customer_not_found"
        body = await api.error("GET", "/api/v1/customers/nobody/applied_coupons", status=404)
        assert body["code"] == "customer_not_found"
        # another organization's customer: the fetch is scoped by organization
        other_org = uuid.uuid4()
        await create("cus_elsewhere", client=subscriptions.client(other_org))
        body = await api.error("GET", "/api/v1/customers/cus_elsewhere/applied_coupons", status=404)
        assert body["code"] == "customer_not_found"
        body = await api.error("POST", "/api/v1/invoices", {"invoice": {
            "external_customer_id": "cus_elsewhere", "fees": [{"add_on_code": "setup"}]}}, status=404)
        assert body["code"] == "customer_not_found"
        assert "cus_elsewhere" not in await projected(org) and await projected(other_org) == []

        # subscriptions down: the 404 as before, not a 500
        runtime.subscriptions = subscriptions_client(None, pem, "http://127.0.0.1:9", timeout=0.5, retries=0)
        await create("cus_late")
        body = await api.error("POST", "/api/v1/invoices", {"invoice": {
            "external_customer_id": "cus_late", "fees": [{"add_on_code": "setup"}]}}, status=404)
        assert body["code"] == "customer_not_found"
        body = await api.error("GET", "/api/v1/customers/cus_late/applied_coupons", status=404)
        assert body["code"] == "customer_not_found"
        assert "cus_late" not in await projected(org)
    finally:
        await runtime.subscriptions.aclose()
        runtime.subscriptions = before
