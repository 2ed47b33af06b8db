"""Usage alerts: Lago's CRUD, and `alert.triggered` published once per threshold crossing."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from subscriptions.usage.alerts import crossed, evaluate_alerts

from .conftest import START  # noqa: TID252


async def triggered(subs, org) -> list[dict]:
    async with subs.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = 'alert.triggered' "
            "AND envelope->>'organization_id' = :org ORDER BY position"), {"org": str(org)})).scalars().all()
    return [row["data"] for row in rows]


def test_crossings():
    fixed = [{"code": "a", "value": "10", "recurring": False}, {"code": "b", "value": "20", "recurring": False}]
    every = [*fixed, {"code": "r", "value": "5", "recurring": True}]
    from decimal import Decimal as D
    assert [t["code"] for t in crossed(fixed, D(0), D(15))] == ["a"]
    assert [t["code"] for t in crossed(fixed, D(10), D(25))] == ["b"]
    assert crossed(fixed, D(25), D(30)) == []
    assert [t["value"] for t in crossed(every, D(15), D(31))] == ["20", "25", "30"]
    assert [t["value"] for t in crossed(every, D(30), D(35))] == ["35"]


async def test_alert_crud_and_single_trigger_per_crossing(api, plans, subs, org, clock):
    body = {"name": "Calls", "code": f"calls_{uuid.uuid4().hex[:6]}", "aggregation_type": "count_agg"}
    calls = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": body}))["billable_metric"]
    plan = await plans.plan(charges=[{"billable_metric_id": calls["lago_id"], "charge_model": "standard",
                                      "properties": {"amount": "1"}}])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})
    created = (await api.ok("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": {
        "alert_type": "billable_metric_current_usage_units", "code": "units", "billable_metric_code": calls["code"],
        "thresholds": [{"code": "warn", "value": 3}, {"code": "every", "value": "5", "recurring": True}]}}))["alert"]
    assert created["code"] == "units" and created["thresholds"][0]["value"] == "3"
    await api.ok("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": {
        "alert_type": "current_usage_amount", "code": "money", "thresholds": [{"value": 250}]}})
    assert [a["code"] for a in (await api.ok("GET", "/api/v1/subscriptions/sub_1/alerts"))["alerts"]] == [
        "units", "money"]
    assert (await api.ok("GET", "/api/v1/subscriptions/sub_1/alerts/money"))["alert"]["alert_type"] == (
        "current_usage_amount")
    body = await api.error("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": {
        "alert_type": "billable_metric_current_usage_units", "code": "units", "thresholds": [{"value": -1}]}})
    assert body["error_details"] == {"thresholds.0.value": ["value_is_out_of_range"]}
    body = await api.error("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": {
        "alert_type": "billable_metric_current_usage_units", "code": "units", "thresholds": [{"value": 1}]}})
    assert body["error_details"] == {"billable_metric_code": ["value_is_mandatory"]}
    await api.error("POST", "/api/v1/subscriptions/nope/alerts", {"alert": {
        "alert_type": "current_usage_amount", "code": "x", "thresholds": [{"value": 1}]}}, status=404)

    async def send(n: int, prefix: str) -> None:
        await api.ok("POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": f"{prefix}{i}", "external_subscription_id": "sub_1", "code": calls["code"]}
            for i in range(n)]})

    await send(4, "a")
    assert await evaluate_alerts(subs.database.sessionmaker, clock()) >= 1
    assert await evaluate_alerts(subs.database.sessionmaker, clock()) == 0  # nothing new: nothing published
    await send(7, "b")  # 11 units: 8 crossed (3 + 5); 300 cents: money crossed
    await evaluate_alerts(subs.database.sessionmaker, clock())
    events = await triggered(subs, org)
    units = [e for e in events if e["alert"]["code"] == "units"]
    assert [[t["value"] for t in e["crossed_thresholds"]] for e in units] == [["3"], ["8"]]
    assert [e["current_value"] for e in units] == ["4", "11"]
    money = [e for e in events if e["alert"]["code"] == "money"]
    assert len(money) == 1 and money[0]["crossed_thresholds"][0]["value"] == "250"
    assert (await api.ok("DELETE", "/api/v1/subscriptions/sub_1/alerts/money"))["alert"]["code"] == "money"
    await api.error("GET", "/api/v1/subscriptions/sub_1/alerts/money", status=404)
    assert START  # the clock stays in the open period throughout
