"""Tenant keys follow the customer's internal identity (issue 11 item 3): a deleted customer's external id,
re-used by a new customer, gives the new customer's key nothing of its predecessor, and the predecessor's
key nothing of the new customer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from subscriptions.subscriptions.scheduler import run_pass

from .conftest import START  # noqa: TID252


async def test_a_recreated_customer_does_not_inherit_its_predecessors_history(api, make_api, plans, subs, org,
                                                                              clock):
    metric = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "calls", "code": f"calls_{uuid.uuid4().hex[:6]}", "aggregation_type": "count_agg"}}))[
        "billable_metric"]
    plan = await plans.plan(charges=[{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                                      "properties": {"amount": "1"}}])
    old = await api.customer("reused")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "reused", "plan_code": plan["code"], "external_id": "old_sub"}})
    clock.set(START + timedelta(days=2))
    await api.ok("POST", "/api/v1/events", {"event": {
        "transaction_id": "t1", "external_subscription_id": "old_sub", "code": metric["code"]}})
    clock.set(datetime(2026, 4, 1, 1, tzinfo=UTC))
    await run_pass(subs.database.sessionmaker, clock.now())  # the old customer's first period closes
    old_key = make_api(org, roles=["tenant"], customer_id=old["lago_id"])
    past = await old_key.ok("GET", "/api/v1/customers/reused/past_usage",
                            params={"external_subscription_id": "old_sub"})
    assert past["meta"]["total_count"] == 1  # the history exists, and its own key reads it

    await api.ok("DELETE", "/api/v1/customers/reused")
    new = await api.customer("reused")
    assert new["lago_id"] != old["lago_id"]
    new_key = make_api(org, roles=["tenant"], customer_id=new["lago_id"])
    for path in ("past_usage", "current_usage", "projected_usage"):
        response = await new_key.client.get(f"/api/v1/customers/reused/{path}",
                                            params={"external_subscription_id": "old_sub"})
        assert response.status_code == 404, (path, response.text)
        assert "usage_periods" not in response.json()
    # staff keys see the same: the live customer "reused" has no subscription "old_sub"
    await api.error("GET", "/api/v1/customers/reused/past_usage", params={"external_subscription_id": "old_sub"},
                    status=404)
    # and the predecessor's key reaches nothing of the new customer
    for path in ("", "/billing_state", "/entitlements/any_feature"):
        await old_key.error("GET", f"/api/v1/customers/reused{path}", status=403)
    await old_key.error("GET", "/api/v1/customers/reused/past_usage", params={"external_subscription_id": "old_sub"},
                        status=403)
    assert (await new_key.ok("GET", "/api/v1/customers/reused"))["customer"]["lago_id"] == new["lago_id"]
