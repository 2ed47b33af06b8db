"""Lifetime usage (Lago): historical + billed closed periods + the open period, threshold progress, the
`lifetime_usage_amount` alert, bad input and isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from subscriptions.subscriptions.scheduler import run_pass
from subscriptions.usage.alerts import evaluate_alerts

from .conftest import START  # noqa: TID252
from .test_usage_alerts import triggered  # noqa: TID252

CONSUMERS = True
FIRST_END = datetime(2026, 4, 1, tzinfo=UTC)


async def lifetime(api) -> dict:
    return (await api.ok("GET", "/api/v1/subscriptions/sub_1/lifetime_usage"))["lifetime_usage"]


async def test_lifetime_usage_accumulates_across_periods_and_triggers_alerts(api, plans, subs, org, clock,
                                                                            make_api):
    body = {"name": "Calls", "code": f"calls_{uuid.uuid4().hex[:6]}", "aggregation_type": "count_agg"}
    calls = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": body}))["billable_metric"]
    plan = await plans.plan(
        charges=[{"billable_metric_id": calls["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}}],
        usage_thresholds=[{"amount_cents": 300}, {"amount_cents": 1000, "recurring": True}])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})

    async def send(n: int, at: datetime) -> None:
        await api.ok("POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": calls["code"],
             "timestamp": at.isoformat()} for _ in range(n)]})

    await send(2, START)
    usage = await lifetime(api)
    assert (usage["external_historical_usage_amount_cents"], usage["invoiced_usage_amount_cents"],
            usage["current_usage_amount_cents"]) == (0, 0, 200)
    assert usage["external_subscription_id"] == "sub_1" and usage["to_datetime"] == clock.now().isoformat()
    assert usage["usage_thresholds"][0] == {"amount_cents": 300, "completion_ratio": 0.6666, "reached_at": None}

    clock.advance(hours=1)
    updated = (await api.ok("PUT", "/api/v1/subscriptions/sub_1/lifetime_usage", {"lifetime_usage": {
        "external_historical_usage_amount_cents": 150}}))["lifetime_usage"]
    assert updated["lago_id"] == usage["lago_id"] and updated["external_historical_usage_amount_cents"] == 150
    reached_at = clock.now().isoformat()
    # 350: the fixed 300 is reached; the recurring 1,000 counts from there, next at 1,300
    assert updated["usage_thresholds"] == [
        {"amount_cents": 300, "completion_ratio": 1.0, "reached_at": reached_at},
        {"amount_cents": 1300, "completion_ratio": 0.2692, "reached_at": None}]

    alert = {"alert_type": "lifetime_usage_amount", "code": "lifetime", "thresholds": [{"value": 400}]}
    await api.ok("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": alert})
    await evaluate_alerts(subs.database.sessionmaker, clock.now())
    assert await triggered(subs, org) == []  # 350 < 400

    clock.set(FIRST_END + timedelta(hours=1))
    await run_pass(subs.database.sessionmaker, clock.now())  # the period closes and bills its 200
    usage = await lifetime(api)
    assert (usage["invoiced_usage_amount_cents"], usage["current_usage_amount_cents"]) == (200, 0)
    assert usage["usage_thresholds"][0]["reached_at"] == reached_at  # first seen, kept
    # the lifetime alert does not start again at zero with the new period
    await evaluate_alerts(subs.database.sessionmaker, clock.now())
    assert await triggered(subs, org) == []
    await send(1, clock.now())
    assert (await lifetime(api))["current_usage_amount_cents"] == 100
    await evaluate_alerts(subs.database.sessionmaker, clock.now())
    [fired] = await triggered(subs, org)
    assert (fired["previous_value"], fired["current_value"]) == ("350", "450")
    assert await evaluate_alerts(subs.database.sessionmaker, clock.now()) == 0

    # terminated: nothing open any more, the billed periods stay
    await api.ok("DELETE", "/api/v1/subscriptions/sub_1")
    usage = await lifetime(api)
    assert usage["current_usage_amount_cents"] == 0 and usage["invoiced_usage_amount_cents"] == 300

    for bad in (-1, "100", 10**16, None):
        error = await api.error("PUT", "/api/v1/subscriptions/sub_1/lifetime_usage", {"lifetime_usage": {
            "external_historical_usage_amount_cents": bad}})
        assert list(error["error_details"]) == ["external_historical_usage_amount_cents"]
    assert (await lifetime(api))["external_historical_usage_amount_cents"] == 150  # bad input changed nothing
    await api.error("GET", "/api/v1/subscriptions/nope/lifetime_usage", status=404)
    stranger = make_api(uuid.uuid4())
    await stranger.error("GET", "/api/v1/subscriptions/sub_1/lifetime_usage", status=404)
    await stranger.error("PUT", "/api/v1/subscriptions/sub_1/lifetime_usage", {"lifetime_usage": {
        "external_historical_usage_amount_cents": 1}}, status=404)
    reader = make_api(org, roles=["service"])
    await reader.error("PUT", "/api/v1/subscriptions/sub_1/lifetime_usage", {"lifetime_usage": {
        "external_historical_usage_amount_cents": 1}}, status=403)
