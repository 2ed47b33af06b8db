"""Usage across billing periods: the snapshot in `subscription.billing_period_ended`, late events, and the
weighted sum of a recurring metric carried into the next period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from subscriptions.subscriptions.scheduler import run_pass

from .conftest import START  # noqa: TID252


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def metric(plans, aggregation: str, **fields) -> dict:
    body = {"name": aggregation, "code": f"{aggregation}_{uuid.uuid4().hex[:6]}", "aggregation_type": aggregation,
            "field_name": None if aggregation == "count_agg" else "value", **fields}
    return (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": body}))["billable_metric"]


async def snapshots(subs, org) -> list[dict]:
    async with subs.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = 'subscription.billing_period_ended' "
            "AND envelope->>'organization_id' = :org ORDER BY position"), {"org": str(org)})).scalars().all()
    return [row["data"] for row in rows]


async def test_snapshot_late_events_and_recurring_weighted_sum(api, plans, subs, org, clock):
    calls = await metric(plans, "count_agg")
    storage = await metric(plans, "weighted_sum_agg", recurring=True)
    amounts = await metric(plans, "sum_agg")
    plan = await plans.plan(charges=[
        {"billable_metric_id": calls["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": storage["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": amounts["lago_id"], "charge_model": "percentage", "properties": {"rate": "10"}},
    ])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})
    first_end = datetime(2026, 4, 1, tzinfo=UTC)
    half = START + (first_end - START) / 2

    def ev(code, at, value=None):
        return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": code,
                "timestamp": iso(at), "properties": {} if value is None else {"value": value}}

    clock.set(half)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(calls["code"], START), ev(calls["code"], half), ev(storage["code"], START, 10),
        ev(storage["code"], half, 10), ev(amounts["code"], half, "100"), ev(amounts["code"], half, "50")]})
    clock.set(first_end + timedelta(hours=1))
    await run_pass(subs.database.sessionmaker, clock())
    [snapshot] = await snapshots(subs, org)
    usage = snapshot["usage"]
    assert usage["from_datetime"].startswith("2026-03-15T10:00") and usage["to_datetime"].startswith("2026-04-01")
    by_code = {c["billable_metric"]["code"]: c for c in usage["charges_usage"]}
    assert by_code[calls["code"]]["units"] == "2" and by_code[calls["code"]]["amount_cents"] == 200
    assert by_code[storage["code"]]["units"] == "15"  # 10 all along, 10 more for the second half
    assert by_code[amounts["code"]]["event_values"] == ["100", "50"]
    assert by_code[amounts["code"]]["amount_cents"] == 1500
    # a late event for the closed period is accepted, flagged, and does not change the open period
    late = (await api.ok("POST", "/api/v1/events", {"event": ev(calls["code"], half)}))["event"]
    assert late["late"] is True
    fresh = (await api.ok("POST", "/api/v1/events", {"event": ev(calls["code"], clock())}))["event"]
    assert fresh["late"] is False
    current = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                            params={"external_subscription_id": "sub_1"}))["customer_usage"]
    by_code = {c["billable_metric"]["code"]: c for c in current["charges_usage"]}
    assert current["from_datetime"] == iso(first_end)
    assert by_code[calls["code"]]["units"] == "1"
    # the recurring weighted sum carries the 20 held at the end of March into April
    assert Decimal(by_code[storage["code"]]["units"]) == 20
    assert by_code[amounts["code"]]["units"] == "0"
    past = await api.ok("GET", "/api/v1/customers/cus_1/past_usage", params={"external_subscription_id": "sub_1"})
    assert past["meta"]["total_count"] == 1
    [period] = past["usage_periods"]
    assert period["from_datetime"] == iso(START) and period["to_datetime"] == iso(first_end)
    by_code = {c["billable_metric"]["code"]: c for c in period["charges_usage"]}
    assert by_code[calls["code"]]["units"] == "3"  # two on time, one late: past usage shows what the events say
    only = await api.ok("GET", "/api/v1/customers/cus_1/past_usage", params={
        "external_subscription_id": "sub_1", "billable_metric_code": calls["code"], "periods_count": 1})
    assert [c["billable_metric"]["code"] for c in only["usage_periods"][0]["charges_usage"]] == [calls["code"]]
    await api.error("GET", "/api/v1/customers/cus_1/past_usage", params={"external_subscription_id": "x"}, status=404)
