"""Who may read and write, and organization isolation on every resource."""

from __future__ import annotations

import uuid

import pytest

READ_PATHS = ["/api/v1/billable_metrics", "/api/v1/plans", "/api/v1/add_ons", "/api/v1/features", "/api/v1/coupons",
              "/api/v1/taxes"]


@pytest.mark.parametrize(("roles", "reads", "writes"), [
    (["admin"], 200, 200),
    (["billing_admin"], 200, 200),
    (["super_admin"], 200, 200),
    (["service"], 200, 403),
    (["tenant"], 403, 403),
])
async def test_role_policy(catalog, roles, reads, writes):
    client = catalog.client(uuid.uuid4(), roles=roles, customer_id=uuid.uuid4() if roles == ["tenant"] else None)
    for path in READ_PATHS:
        assert (await client.get(path)).status_code == reads, (roles, path)
    response = await client.post("/api/v1/taxes", json={"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    assert response.status_code == writes, response.text
    if writes == 403:
        assert response.json() == {"status": 403, "error": "Forbidden", "code": "forbidden_role"}


async def test_unauthenticated_requests_are_refused(catalog):
    anonymous = catalog.client()
    response = await anonymous.get("/api/v1/plans")
    assert response.status_code == 401 and response.json()["status"] == 401
    forged = catalog.client(api_key="not-a-jwt")
    assert (await forged.post("/api/v1/taxes", json={"tax": {}})).status_code == 401


async def test_organizations_never_see_each_other(catalog, api, charge_of):
    tax = await api.tax()
    metric = await api.metric()
    add_on = await api.add_on()
    feature = await api.feature()
    plan = await api.plan([charge_of(metric)])
    coupon = (await api.ok("POST", "/api/v1/coupons", {"coupon": {
        "name": "C", "code": "c", "coupon_type": "percentage", "percentage_rate": "10", "frequency": "once",
        "expiration": "no_expiration"}}))["coupon"]

    other = catalog.client(uuid.uuid4(), roles=["admin"])
    for path in READ_PATHS:
        body = (await other.get(path)).json()
        assert body["meta"]["total_count"] == 0, path
    for path, code in [("taxes", tax["code"]), ("billable_metrics", metric["code"]), ("add_ons", add_on["code"]),
                       ("features", feature["code"]), ("plans", plan["code"]), ("coupons", coupon["code"])]:
        assert (await other.get(f"/api/v1/{path}/{code}")).status_code == 404, path
        assert (await other.put(f"/api/v1/{path}/{code}", json={path[:-1]: {"name": "x"}})).status_code in (404, 400)
        assert (await other.delete(f"/api/v1/{path}/{code}")).status_code == 404, path
    assert (await other.get(f"/api/v1/plans/{plan['code']}/charges")).status_code == 404
    assert (await other.get(f"/api/v1/plans/{plan['code']}/versions")).status_code == 404

    # the other organization can reuse every code, and cannot refer to our metric, add-on or tax
    own = await other.post("/api/v1/plans", json={"plan": {
        "name": "P", "code": plan["code"], "interval": "monthly", "amount_cents": 0, "amount_currency": "EUR",
        "tax_codes": [tax["code"]], "charges": [charge_of(metric)],
        "fixed_charges": [{"add_on_id": add_on["lago_id"], "charge_model": "standard"}],
    }})
    assert own.status_code == 422
    assert own.json()["error_details"] == {
        "tax_codes": ["tax_not_found"], "charges.0.billable_metric_id": ["billable_metric_not_found"],
        "fixed_charges.0.add_on_id": ["add_on_not_found"],
    }
    same_code = await other.post("/api/v1/taxes", json={"tax": {"name": "VAT", "code": tax["code"], "rate": "1"}})
    assert same_code.status_code == 200
    assert (await api.ok("GET", f"/api/v1/taxes/{tax['code']}"))["tax"]["rate"] == 20.0
