"""Progressive billing's trigger: `subscription.usage_threshold_reached` once per crossing of a usage threshold
by lifetime usage (fixed thresholds, then every multiple of the recurring one), with the open period's usage."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from subscriptions.usage.progressive import crossed, evaluate

from .conftest import START  # noqa: TID252
from .test_usage_events import iso  # noqa: TID252


async def reached(subs, org) -> list[dict]:
    async with subs.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = 'subscription.usage_threshold_reached' "
            "AND envelope->>'organization_id' = :org ORDER BY position"), {"org": str(org)})).scalars().all()
    return [row["data"] for row in rows]


def test_crossed_amounts():
    found = [{"amount_cents": 500}, {"amount_cents": 2_000}, {"amount_cents": 1_000, "recurring": True}]
    assert [a for a, _ in crossed(found, 0, 499)] == []
    assert [a for a, _ in crossed(found, 0, 500)] == [500]
    assert [a for a, _ in crossed(found, 500, 4_100)] == [2_000, 3_000, 4_000]
    assert [a for a, _ in crossed(found, 4_000, 4_999)] == []
    assert [a for a, _ in crossed(found, 4_000, 5_000)] == [5_000]


async def test_each_crossing_is_published_once_with_the_periods_usage(api, plans, subs, org, clock):
    metric = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "Tokens", "code": f"tok_{uuid.uuid4().hex[:6]}", "aggregation_type": "sum_agg",
        "field_name": "n"}}))["billable_metric"]
    plan = await plans.plan(amount_cents=0, charges=[{"billable_metric_id": metric["lago_id"],
                                                      "charge_model": "standard", "properties": {"amount": "1"}}],
                            usage_thresholds=[{"amount_cents": 500, "threshold_display_name": "first"},
                                              {"amount_cents": 2_000},
                                              {"amount_cents": 1_000, "recurring": True}])
    customer = await api.customer()
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": customer["external_id"], "plan_code": plan["code"], "external_id": "sub_pb"}})

    async def send(n: int) -> None:
        await api.ok("POST", "/api/v1/events", {"event": {
            "transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_pb", "code": metric["code"],
            "timestamp": iso(START), "properties": {"n": n}}})

    sessionmaker = subs.database.sessionmaker
    await send(4)
    assert await evaluate(sessionmaker, clock.now()) == 0
    await send(2)  # 6.00: the first threshold (5.00)
    # two passes racing: the row lock and the recorded amount let one publish
    counts = await asyncio.gather(evaluate(sessionmaker, clock.now()), evaluate(sessionmaker, clock.now()))
    assert sum(counts) == 1
    assert await evaluate(sessionmaker, clock.now()) == 0
    await send(35)  # 41.00: 20.00, 30.00 and 40.00 at once → one event naming 40.00
    assert await evaluate(sessionmaker, clock.now()) == 1
    events = await reached(subs, org)
    assert [(e["crossed_amount_cents"], e["crossed_amounts_cents"], e["lifetime_usage_amount_cents"])
            for e in events] == [(500, [500], 600), (4_000, [2_000, 3_000, 4_000], 4_100)]
    assert events[0]["usage_threshold"]["threshold_display_name"] == "first"
    assert events[1]["usage_threshold"]["recurring"] is True
    assert events[1]["usage"]["amount_cents"] == 4_100 and events[1]["subscription"]["external_id"] == "sub_pb"
    assert events[1]["period_start"] == events[0]["period_start"]
