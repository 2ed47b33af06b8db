"""Payment methods (Lago's customer routes), read from and changed at the provider (localstripe): list, set as
default (the charger then uses it), delete; tenants see their own customer only; other organizations 404."""

from __future__ import annotations

import uuid

from payments.payments import charger

CARD_DECLINED_ON_CHARGE = "4000000000000341"


def _attach(stage, provider_customer_id: str, number: str) -> str:
    method = stage.stripe.v1.payment_methods.create({"type": "card", "card": {
        "number": number, "exp_month": 7, "exp_year": 2033, "cvc": "123"}})
    stage.stripe.v1.payment_methods.attach(method.id, {"customer": provider_customer_id})
    return method.id


async def test_list_set_default_and_delete(payments, stage):
    customer = await stage.customer()
    declining = _attach(stage, customer["provider_customer_id"], CARD_DECLINED_ON_CHARGE)
    url = f"/api/v1/customers/{customer['external_id']}/payment_methods"
    listed = await stage.ok("GET", url)
    assert listed["meta"]["total_count"] == 2
    methods = {m["provider_method_id"]: m for m in listed["payment_methods"]}
    assert methods[declining]["last4"] == "0341" and methods[declining]["expiration_year"] == 2033
    assert methods[declining]["payment_provider_code"] == stage.provider_code
    assert (await stage.ok("GET", url))["payment_methods"] == listed["payment_methods"]  # stable ids

    chosen = methods[declining]["lago_id"]
    default = (await stage.ok("PUT", f"{url}/{chosen}/set_as_default"))["payment_method"]
    assert default["is_default"] and default["provider_method_id"] == declining
    listed = await stage.ok("GET", url)
    assert listed["payment_methods"][0]["lago_id"] == chosen and listed["payment_methods"][0]["is_default"]
    stripe_customer = stage.stripe.v1.customers.retrieve(customer["provider_customer_id"])
    assert stripe_customer.invoice_settings.default_payment_method == declining

    # the charger charges the default method: this one declines
    _, payment_id = await stage.finalize(customer, 1_200)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    assert (await stage.payment(payment_id))["payment_status"] == "failed"

    deleted = (await stage.ok("DELETE", f"{url}/{chosen}"))["payment_method"]
    assert deleted["lago_id"] == chosen
    remaining = await stage.ok("GET", url)
    assert [m["provider_method_id"] for m in remaining["payment_methods"]] != [declining]
    assert remaining["meta"]["total_count"] == 1
    assert (await stage.error("DELETE", f"{url}/{chosen}", status=404))["code"] == "payment_method_not_found"


async def test_access_and_missing_things(payments, stage):
    customer = await stage.customer()
    url = f"/api/v1/customers/{customer['external_id']}/payment_methods"
    listed = await stage.ok("GET", url)
    method = listed["payment_methods"][0]["lago_id"]
    stranger = payments.client(uuid.uuid4())
    assert (await stranger.get(url)).status_code == 404
    assert (await stranger.put(f"{url}/{method}/set_as_default")).status_code == 404
    own = payments.client(stage.org, roles=["tenant"], customer_id=customer["lago_id"])
    assert (await own.get(url)).status_code == 200
    assert (await own.delete(f"{url}/{method}")).status_code == 403
    other = payments.client(stage.org, roles=["tenant"], customer_id=uuid.uuid4())
    assert (await other.get(url)).status_code == 403
    assert (await stage.client.put(f"{url}/{uuid.uuid4()}/set_as_default")).status_code == 404
    assert (await stage.client.put(f"{url}/not-a-uuid/set_as_default")).status_code == 404
    no_provider = await stage.customer(provider=False)
    response = await stage.client.get(f"/api/v1/customers/{no_provider['external_id']}/payment_methods")
    assert response.status_code == 405 and response.json()["code"] == "missing_payment_provider"
    not_yet = await stage.customer(linked=False)  # not created at the provider yet: no method
    assert (await stage.ok("GET", f"/api/v1/customers/{not_yet['external_id']}/payment_methods"))[
        "meta"]["total_count"] == 0
    assert (await stage.ok("GET", url))["meta"]["total_count"] == 1  # nothing was deleted
