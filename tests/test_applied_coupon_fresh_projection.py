"""A coupon applied to a customer a moment after both were created, before their events reached invoicing: the
customer and the coupon are asked of their owners (subscriptions, the catalog) instead of answering 404 (Lago,
with one database, never does). Found by `scripts/money_journey.py`: `customers.create` then
`applied_coupons.create` with Lago's client failed with `customer_not_found` while invoicing's consumers were
behind. Owners unreachable, or not knowing them either: the 404s as before, nothing stored."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from invora.service_client import ServiceClient


def client_of(app, pem: str, url: str) -> ServiceClient:
    return ServiceClient(base_url=url, subject="service:invoicing", issuer="invora", signing_key=pem,
                         transport=httpx.ASGITransport(app=app))


async def test_a_coupon_applied_before_the_projections_heard_of_customer_and_coupon(start_service, invora_keys):
    org = uuid.uuid4()
    pem = invora_keys.private_pem.decode()
    # their events never reach invoicing: the projections stay empty
    catalog = await start_service("catalog", relay_enabled=False)
    subscriptions = await start_service("subscriptions", relay_enabled=False, consumers_enabled=False,
                                        scheduler_enabled=False)
    invoicing = await start_service("invoicing", consumers_enabled=False, scheduler_enabled=False)
    api = invoicing.client(org)
    created = await subscriptions.client(org).post("/api/v1/customers", json={"customer": {
        "external_id": "cus_new", "name": "Acme", "currency": "EUR"}})
    assert created.status_code == 200, created.text
    coupon = await catalog.client(org).post("/api/v1/coupons", json={"coupon": {
        "name": "Five off", "code": "five", "coupon_type": "fixed_amount", "amount_cents": 500,
        "amount_currency": "EUR", "frequency": "once", "expiration": "no_expiration"}})
    assert coupon.status_code == 200, coupon.text
    body = {"applied_coupon": {"external_customer_id": "cus_new", "coupon_code": "five"}}

    async def projected() -> tuple[int, int]:
        async with invoicing.database.sessionmaker() as session:
            counts = [(await session.execute(text(f"SELECT count(*) FROM {table} WHERE organization_id = :o"),
                                             {"o": org})).scalar_one() for table in ("customers", "coupons")]
        return counts[0], counts[1]

    # the owners unreachable: Lago's 404, nothing stored
    runtime = invoicing.app.state.runtime
    runtime.subscriptions = ServiceClient(base_url="http://127.0.0.1:9", subject="service:invoicing",
                                          issuer="invora", signing_key=pem, timeout=0.5, retries=0)
    refused = await api.post("/api/v1/applied_coupons", json=body)
    assert refused.status_code == 404 and refused.json()["code"] == "customer_not_found", refused.text
    assert await projected() == (0, 0)

    runtime.subscriptions = client_of(subscriptions.app, pem, "http://subscriptions.test")
    runtime.catalog = client_of(catalog.app, pem, "http://catalog.test")
    unknown = await api.post("/api/v1/applied_coupons", json={"applied_coupon": {
        "external_customer_id": "cus_new", "coupon_code": "nope"}})
    assert unknown.status_code == 404 and unknown.json()["code"] == "coupon_not_found", unknown.text
    nobody = await api.post("/api/v1/applied_coupons", json={"applied_coupon": {
        "external_customer_id": "nobody", "coupon_code": "five"}})
    assert nobody.status_code == 404 and nobody.json()["code"] == "customer_not_found", nobody.text

    applied = await api.post("/api/v1/applied_coupons", json=body)
    assert applied.status_code == 200, applied.text
    got = applied.json()["applied_coupon"]
    assert (got["external_customer_id"], got["coupon_code"], got["amount_cents"]) == ("cus_new", "five", 500)
    assert got["lago_customer_id"] == created.json()["customer"]["lago_id"]
    assert await projected() == (1, 1)  # stored as the events would have; the second apply reads them
    again = await api.post("/api/v1/applied_coupons", json=body)
    assert again.status_code == 422 and again.json()["error_details"] == {"coupon_code": ["coupon_already_applied"]}
    # another organization still sees neither
    other = await invoicing.client(uuid.uuid4()).post("/api/v1/applied_coupons", json=body)
    assert other.status_code == 404, other.text
