"""Metric expressions at ingestion: a metric's `expression` is evaluated for each event and its value
lands in the event's `field_name` property (Lago's `Events::CalculateExpressionService`), aggregated from
there; an event it cannot be evaluated for is refused by index, and the batch stores nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import text

from .conftest import START  # noqa: TID252
from .test_usage_events import count_events, iso, rollups  # noqa: TID252


async def _setup(api, plans, expression: str, aggregation: str = "sum_agg", field_name: str = "seconds"):
    metric = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "Compute", "code": f"compute_{uuid.uuid4().hex[:6]}", "aggregation_type": aggregation,
        "field_name": field_name, "expression": expression}}))["billable_metric"]
    plan = await plans.plan(charges=[{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                                      "properties": {"amount": "0.01"}}])
    await api.customer("cus_expr")
    external_id = f"sub_{uuid.uuid4().hex[:6]}"
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_expr", "plan_code": plan["code"], "external_id": external_id}})
    return metric["code"], external_id


def _event(code: str, external_id: str, **properties) -> dict:
    return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": external_id, "code": code,
            "timestamp": iso(START), "properties": properties}


async def test_the_expression_value_is_stored_in_field_name_and_aggregated(api, plans, subs, org):
    code, external_id = await _setup(api, plans, "round((ended_at - started_at) * units)")
    created = (await api.ok("POST", "/api/v1/events", {"event": _event(
        code, external_id, started_at=1_700_000_000, ended_at="1700000090.6", units=2)}))["event"]
    # (90.6 × 2) = 181.2 → 181, written where the metric aggregates from
    assert created["properties"] == {"started_at": 1_700_000_000, "ended_at": "1700000090.6", "units": 2,
                                     "seconds": "181"}
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        _event(code, external_id, started_at=0, ended_at=10, units=1),
        # a value the event carried itself is replaced by the expression's, as Lago does
        _event(code, external_id, started_at=0, ended_at=1, units="0.5", seconds=1000),
    ]})
    assert (await rollups(subs, org))[(code, "")].value_sum == Decimal(181 + 10 + 1)  # round(0.5) = 1
    async with subs.database.sessionmaker() as session:
        stored = (await session.execute(text(
            "SELECT properties->>'seconds' FROM usage_events WHERE organization_id = :org ORDER BY 1"),
            {"org": org})).scalars().all()
    assert sorted(stored, key=int) == ["1", "10", "181"]


async def test_a_long_quotient_is_kept_to_twelve_decimals(api, plans, subs, org):
    code, external_id = await _setup(api, plans, "event.properties.gb / 3", field_name="gb_third")
    created = (await api.ok("POST", "/api/v1/events", {"event": _event(code, external_id, gb=10)}))["event"]
    assert created["properties"]["gb_third"] == "3.333333333333"
    assert (await rollups(subs, org))[(code, "")].value_sum == Decimal("3.333333333333")


async def test_events_the_expression_cannot_evaluate_are_refused_by_index(api, plans, subs, org):
    code, external_id = await _setup(api, plans, "units / (ended_at - started_at)")
    good = _event(code, external_id, started_at=0, ended_at=4, units=2)
    body = await api.error("POST", "/api/v1/events/batch", {"events": [
        good,
        _event(code, external_id, started_at=0, units=2),  # ended_at missing
        _event(code, external_id, started_at=5, ended_at=5, units=2),  # division by zero
        _event(code, external_id, started_at=0, ended_at=1, units="many"),  # text where a number is needed
    ]})
    assert body["error_details"] == {
        "1": {"properties.ended_at": ["value_is_mandatory"]},
        "2": {"properties.seconds": ["expression_evaluation_failed"]},
        "3": {"properties.seconds": ["expression_evaluation_failed"]},
    }
    assert await count_events(subs, org) == 0  # all or nothing
    single = await api.error("POST", "/api/v1/events", {"event": _event(code, external_id, units=1)})
    assert single["error_details"] == {"properties.ended_at": ["value_is_mandatory"]}
    assert (await api.ok("POST", "/api/v1/events", {"event": good}))["event"]["properties"]["seconds"] == "0.5"


async def test_unique_count_can_count_a_concatenation(api, plans, subs, org):
    code, external_id = await _setup(api, plans, "concat(region, '/', host)", aggregation="unique_count_agg",
                                     field_name="region_host")
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        _event(code, external_id, region="eu", host="a"), _event(code, external_id, region="eu", host="a"),
        _event(code, external_id, region="eu", host="b"), _event(code, external_id, region="us", host="a")]})
    async with subs.database.sessionmaker() as session:
        values = (await session.execute(text(
            "SELECT DISTINCT properties->>'region_host' FROM usage_events WHERE organization_id = :org"),
            {"org": org})).scalars().all()
    assert sorted(values) == ["eu/a", "eu/b", "us/a"]
