"""Applied coupons: Lago's API, and their consumption by invoices (fixed remainder carried forward)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from .conftest import T0  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)


def coupon(code: str, kind: str = "fixed_amount", **fields) -> dict:
    return {"lago_id": str(uuid.uuid4()), "name": code.title(), "code": code, "coupon_type": kind,
            "amount_cents": 5_000 if kind == "fixed_amount" else None, "amount_currency": "EUR",
            "percentage_rate": "10" if kind == "percentage" else None, "frequency": "once",
            "expiration": "no_expiration", "reusable": True, "created_at": T0.isoformat(), **fields}


async def test_a_fixed_coupon_is_spent_across_invoices_and_terminated(world, api, inv):
    await world.coupon_event(coupon("welcome"))
    customer = await world.customer("cus_c")
    applied = (await api.ok("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "cus_c", "coupon_code": "welcome"}}))["applied_coupon"]
    assert (applied["status"], applied["amount_cents_remaining"]) == ("active", 5_000)
    again = await api.error("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "cus_c", "coupon_code": "welcome"}})
    assert again["error_details"] == {"coupon_code": ["coupon_already_applied"]}
    sub = world.subscription(customer, await world.plan(3_000))
    await world.close(sub, T0, APR)
    await world.close(sub, APR, MAY)
    totals = sorted((i["issuing_date"], i["coupons_amount_cents"], i["total_amount_cents"])
                    for i in (await api.ok("GET", "/api/v1/invoices"))["invoices"])
    # 30.00 of 50.00 on March, the 20.00 left on April
    assert totals == [("2026-04-01", 3_000, 0), ("2026-05-01", 2_000, 1_000)]
    [state] = (await api.ok("GET", "/api/v1/applied_coupons", params={"external_customer_id": "cus_c"}))[
        "applied_coupons"]
    assert (state["status"], state["amount_cents_remaining"]) == ("terminated", 0)
    await api.error("DELETE", f"/api/v1/customers/cus_c/applied_coupons/{state['lago_id']}", status=405)


async def test_overrides_limits_termination_and_bad_input(world, api, make_api, org):
    await world.coupon_event(coupon("tenpct", "percentage", frequency="recurring", frequency_duration=3))
    await world.coupon_event(coupon("usd", amount_currency="USD"))
    await world.coupon_event(coupon("gone", terminated_at=T0.isoformat()))
    await world.customer("cus_d")
    applied = (await api.ok("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "cus_d", "coupon_code": "tenpct", "percentage_rate": "25",
        "frequency_duration": 2}}))["applied_coupon"]
    assert (applied["percentage_rate"], applied["frequency_duration_remaining"]) == ("25", 2)
    body = await api.error("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "cus_d", "coupon_code": "usd"}})
    assert body["error_details"] == {"currency": ["currencies_does_not_match"]}
    await api.error("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "cus_d", "coupon_code": "gone"}})
    await api.error("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "cus_d", "coupon_code": "nope"}}, status=404)
    await api.error("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "nobody", "coupon_code": "tenpct"}}, status=404)
    await api.error("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "cus_d", "coupon_code": "tenpct", "percentage_rate": "101"}})
    tenant = make_api(org, roles=("tenant",), customer_id=uuid.uuid4())
    assert (await tenant.ok("GET", "/api/v1/applied_coupons"))["applied_coupons"] == []
    await make_api(org, roles=("tenant",), customer_id=applied["lago_customer_id"]).error(
        "DELETE", f"/api/v1/customers/cus_d/applied_coupons/{applied['lago_id']}", status=403)
    await make_api(uuid.uuid4()).error(
        "DELETE", f"/api/v1/customers/cus_d/applied_coupons/{applied['lago_id']}", status=404)
    done = (await api.ok("DELETE", f"/api/v1/customers/cus_d/applied_coupons/{applied['lago_id']}"))[
        "applied_coupon"]
    assert done["status"] == "terminated" and done["terminated_at"] is not None


async def test_customer_applied_coupons_filters_pagination_and_access(world, api, make_api, org):
    for code in ("alpha", "beta", "gamma"):
        await world.coupon_event(coupon(code))
    await world.customer("cus_list")
    await world.customer("cus_other")
    applied = {}
    for code in ("alpha", "beta", "gamma"):
        applied[code] = (await api.ok("POST", "/api/v1/applied_coupons", {"applied_coupon": {
            "external_customer_id": "cus_list", "coupon_code": code}}))["applied_coupon"]
    await api.ok("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "cus_other", "coupon_code": "alpha"}})
    await api.ok("DELETE", f"/api/v1/customers/cus_list/applied_coupons/{applied['beta']['lago_id']}")
    path = "/api/v1/customers/cus_list/applied_coupons"

    everything = await api.ok("GET", path)
    assert [c["coupon_code"] for c in everything["applied_coupons"]] == ["gamma", "beta", "alpha"]  # newest first
    assert everything["meta"]["total_count"] == 3
    assert {c["external_customer_id"] for c in everything["applied_coupons"]} == {"cus_list"}
    active = await api.ok("GET", path, params={"status": "active"})
    assert sorted(c["coupon_code"] for c in active["applied_coupons"]) == ["alpha", "gamma"]
    terminated = await api.ok("GET", path, params={"status": "terminated"})
    assert [c["coupon_code"] for c in terminated["applied_coupons"]] == ["beta"]
    by_code = await api.ok("GET", path, params=[("coupon_code[]", "alpha"), ("coupon_code[]", "beta")])
    assert sorted(c["coupon_code"] for c in by_code["applied_coupons"]) == ["alpha", "beta"]
    page2 = await api.ok("GET", path, params={"per_page": 2, "page": 2})
    assert [c["coupon_code"] for c in page2["applied_coupons"]] == ["alpha"]
    assert (page2["meta"]["current_page"], page2["meta"]["total_pages"], page2["meta"]["prev_page"]) == (2, 2, 1)

    # bad input: 4xx with field details, never a 500
    bad = await api.error("GET", path, params={"status": "paused"}, status=422)
    assert "status" in bad["error_details"]
    await api.error("GET", path, params={"per_page": 0}, status=422)
    await api.error("GET", "/api/v1/customers/nobody/applied_coupons", status=404)
    # another organization: the customer does not exist there
    await make_api(uuid.uuid4()).error("GET", path, status=404)
    # a tenant key: its own customer only
    mine = make_api(org, roles=("tenant",), customer_id=applied["alpha"]["lago_customer_id"])
    assert (await mine.ok("GET", path))["meta"]["total_count"] == 3
    await mine.error("GET", "/api/v1/customers/cus_other/applied_coupons", status=403)
