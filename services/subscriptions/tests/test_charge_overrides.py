"""A subscription's charges and their overrides (Lago's /subscriptions/{external_id}/charges[/{code}]):
the override prices current usage, changes nothing for another subscription on the same plan, and is
checked like any price."""

from __future__ import annotations

import uuid
from datetime import timedelta

from .conftest import START  # noqa: TID252
from .test_usage_events import iso  # noqa: TID252


async def _usage_cents(api, customer: str, subscription: str) -> int:
    usage = (await api.ok("GET", f"/api/v1/customers/{customer}/current_usage",
                          params={"external_subscription_id": subscription}))["customer_usage"]
    return usage["amount_cents"]


async def test_override_one_charge_for_one_subscription(api, plans, org, clock):
    metric = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "Calls", "code": f"calls_{uuid.uuid4().hex[:6]}", "aggregation_type": "count_agg"}}))["billable_metric"]
    plan = await plans.plan(charges=[{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                                      "properties": {"amount": "1"}}])
    for customer, subscription in (("cus_a", "sub_a"), ("cus_b", "sub_b")):
        await api.customer(customer)
        await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": customer, "plan_code": plan["code"], "external_id": subscription}})
        await api.ok("POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": uuid.uuid4().hex, "external_subscription_id": subscription, "code": metric["code"],
             "timestamp": iso(START + timedelta(minutes=5)), "properties": {}} for _ in range(3)]})

    listed = await api.ok("GET", "/api/v1/subscriptions/sub_a/charges")
    assert listed["meta"]["total_count"] == 1 and len(listed["charges"]) == 1
    charge = listed["charges"][0]
    assert charge["billable_metric_code"] == metric["code"] and charge["properties"] == {"amount": "1"}
    code = charge["code"]
    assert (await api.ok("GET", f"/api/v1/subscriptions/sub_a/charges/{code}"))["charge"] == charge
    assert await _usage_cents(api, "cus_a", "sub_a") == 300

    overridden = (await api.ok("PUT", f"/api/v1/subscriptions/sub_a/charges/{code}", {"charge": {
        "properties": {"amount": "2.5"}, "invoice_display_name": "Calls (negotiated)"}}))["charge"]
    assert overridden["properties"] == {"amount": "2.5"} and overridden["invoice_display_name"] == "Calls (negotiated)"
    assert overridden["lago_id"] == charge["lago_id"]  # the plan's charge, not a new plan version
    # a second PUT merges: the display name stays
    again = (await api.ok("PUT", f"/api/v1/subscriptions/sub_a/charges/{code}", {"charge": {
        "properties": {"amount": "3"}}}))["charge"]
    assert again["properties"] == {"amount": "3"} and again["invoice_display_name"] == "Calls (negotiated)"
    assert (await api.ok("GET", f"/api/v1/subscriptions/sub_a/charges/{code}"))["charge"] == again
    assert await _usage_cents(api, "cus_a", "sub_a") == 900
    assert await _usage_cents(api, "cus_b", "sub_b") == 300  # the other subscription keeps the plan's price
    assert (await api.ok("GET", f"/api/v1/subscriptions/sub_b/charges/{code}"))["charge"]["properties"] == {
        "amount": "1"}

    # bad prices are 422 with the field, and change nothing; unknown charges and subscriptions are 404
    bad = await api.error("PUT", f"/api/v1/subscriptions/sub_a/charges/{code}", {"charge": {
        "properties": {"amount": "abc"}}})
    assert bad["error_details"] == {"properties": ["invalid_amount"]}
    assert await _usage_cents(api, "cus_a", "sub_a") == 900
    missing = await api.error("PUT", "/api/v1/subscriptions/sub_a/charges/nope", {"charge": {
        "properties": {"amount": "1"}}}, status=404)
    assert missing["code"] == "charge_not_found"
    unknown = await api.error("GET", "/api/v1/subscriptions/nope/charges", status=404)
    assert unknown["code"] == "subscription_not_found"
    assert (await api.error("GET", "/api/v1/subscriptions/sub_a/fixed_charges/nope", status=404))["code"] == (
        "fixed_charge_not_found")
    assert (await api.ok("GET", "/api/v1/subscriptions/sub_a/fixed_charges"))["fixed_charges"] == []


async def test_another_organization_cannot_read_or_override(api, plans, make_api, org, clock):
    metric = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "Calls", "code": f"calls_{uuid.uuid4().hex[:6]}", "aggregation_type": "count_agg"}}))["billable_metric"]
    plan = await plans.plan(charges=[{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                                      "properties": {"amount": "1"}}])
    await api.customer("cus_x")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_x", "plan_code": plan["code"], "external_id": "sub_x"}})
    code = (await api.ok("GET", "/api/v1/subscriptions/sub_x/charges"))["charges"][0]["code"]
    other = make_api(uuid.uuid4())
    await other.error("GET", "/api/v1/subscriptions/sub_x/charges", status=404)
    await other.error("PUT", f"/api/v1/subscriptions/sub_x/charges/{code}",
                      {"charge": {"properties": {"amount": "9"}}}, status=404)
    assert (await api.ok("GET", f"/api/v1/subscriptions/sub_x/charges/{code}"))["charge"]["properties"] == {
        "amount": "1"}


async def test_a_customers_subscriptions(api, plans, make_api, org, clock):
    plan = await plans.plan()
    await api.customer("cus_list")
    none = await api.customer("cus_none")
    for external_id in ("sub_l1", "sub_l2"):
        await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_list", "plan_code": plan["code"], "external_id": external_id}})
    listed = await api.ok("GET", "/api/v1/customers/cus_list/subscriptions")
    assert sorted(s["external_id"] for s in listed["subscriptions"]) == ["sub_l1", "sub_l2"]
    assert listed["meta"]["total_count"] == 2
    assert (await api.ok("GET", "/api/v1/customers/cus_none/subscriptions"))["subscriptions"] == []
    assert (await api.error("GET", "/api/v1/customers/ghost/subscriptions", status=404))["code"] == (
        "customer_not_found")
    tenant = make_api(org, roles=["tenant"], customer_id=none["lago_id"])
    await tenant.error("GET", "/api/v1/customers/cus_list/subscriptions", status=403)
    assert (await tenant.ok("GET", "/api/v1/customers/cus_none/subscriptions"))["subscriptions"] == []
    await make_api(uuid.uuid4()).error("GET", "/api/v1/customers/cus_list/subscriptions", status=404)


async def test_filters_of_one_subscriptions_charge(api, plans, org, clock):
    metric = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "Storage", "code": f"gb_{uuid.uuid4().hex[:6]}", "aggregation_type": "sum_agg", "field_name": "gb",
        "filters": [{"key": "region", "values": ["eu", "us"]}]}}))["billable_metric"]
    plan = await plans.plan(charges=[{
        "billable_metric_id": metric["lago_id"], "charge_model": "standard", "properties": {"amount": "1"},
        "filters": [{"invoice_display_name": "EU", "properties": {"amount": "2"}, "values": {"region": ["eu"]}}]}])
    for customer, subscription in (("cus_f", "sub_f"), ("cus_g", "sub_g")):
        await api.customer(customer)
        await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": customer, "plan_code": plan["code"], "external_id": subscription}})
        await api.ok("POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": uuid.uuid4().hex, "external_subscription_id": subscription, "code": metric["code"],
             "timestamp": iso(START + timedelta(minutes=5)), "properties": {"gb": 10, "region": region}}
            for region in ("eu", "us")]})
    code = (await api.ok("GET", "/api/v1/subscriptions/sub_f/charges"))["charges"][0]["code"]
    base = f"/api/v1/subscriptions/sub_f/charges/{code}/filters"
    listed = await api.ok("GET", base)
    assert listed["meta"]["total_count"] == 1
    eu = listed["filters"][0]
    assert eu["values"] == {"region": ["eu"]} and eu["properties"] == {"amount": "2"}
    assert await _usage_cents(api, "cus_f", "sub_f") == 2000 + 1000  # eu at 2, us at 1 (default)

    us = (await api.ok("POST", base, {"filter": {"properties": {"amount": "5"},
                                                  "values": {"region": ["us"]}}}))["filter"]
    assert us["lago_id"] and us["values"] == {"region": ["us"]}
    assert (await api.ok("GET", f"{base}/{us['lago_id']}"))["filter"] == us
    assert await _usage_cents(api, "cus_f", "sub_f") == 2000 + 5000
    changed = (await api.ok("PUT", f"{base}/{eu['lago_id']}", {"filter": {"properties": {"amount": "3"}}}))["filter"]
    assert changed["properties"] == {"amount": "3"} and changed["values"] == {"region": ["eu"]}
    assert await _usage_cents(api, "cus_f", "sub_f") == 3000 + 5000
    bad = await api.error("PUT", f"{base}/{eu['lago_id']}", {"filter": {"properties": {"amount": "x"}}})
    assert bad["error_details"] == {"filters.0.properties": ["invalid_amount"]}
    removed = (await api.ok("DELETE", f"{base}/{us['lago_id']}"))["filter"]
    assert removed["lago_id"] == us["lago_id"]
    assert [f["lago_id"] for f in (await api.ok("GET", base))["filters"]] == [eu["lago_id"]]
    assert await _usage_cents(api, "cus_f", "sub_f") == 3000 + 1000
    last = await api.error("DELETE", f"{base}/{eu['lago_id']}")
    assert last["error_details"] == {"filters": ["cannot_remove_last_filter"]}
    assert (await api.error("GET", f"{base}/{uuid.uuid4()}", status=404))["code"] == "charge_filter_not_found"
    assert await _usage_cents(api, "cus_g", "sub_g") == 2000 + 1000  # the other subscription: the plan's prices
