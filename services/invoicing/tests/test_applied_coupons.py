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
