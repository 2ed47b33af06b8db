"""The two reported triggers that stopped billing for every organization (issue 11, item 1), reproduced
through the API: a charge override priced `"abc"`, and a trial subscription fed `9.9e28` tokens.

Each must be refused at the door (422 with field-level errors, nothing stored), so current usage,
projected usage, termination and the scheduler never meet them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from subscriptions.subscriptions.scheduler import run_pass

from .conftest import START  # noqa: TID252


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def _metric(plans, aggregation: str = "sum_agg", field: str = "tokens") -> dict:
    body = {"name": aggregation, "code": f"{aggregation}_{uuid.uuid4().hex[:6]}", "aggregation_type": aggregation,
            "field_name": field}
    return (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": body}))["billable_metric"]


async def _plan_with_charge(plans, metric: dict, **fields) -> dict:
    return await plans.plan(charges=[{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                                      "code": "tokens", "properties": {"amount": "0.001"}}], **fields)


def _sub(plan_code: str, external_id: str, customer: str, **fields) -> dict:
    return {"subscription": {"external_customer_id": customer, "plan_code": plan_code, "external_id": external_id,
                             **fields}}


@pytest.mark.parametrize("amount", ["abc", True, [], {}, "", "-1", "1e3", None])
async def test_override_prices_are_checked_by_the_pricing_engine(api, plans, subs, org, amount):
    plan = await _plan_with_charge(plans, await _metric(plans))
    await api.customer("cus_o")
    override = {"charges": [{"code": "tokens", "properties": {"amount": amount}}]}
    body = await api.error("POST", "/api/v1/subscriptions", _sub(plan["code"], "s_bad", "cus_o",
                                                                 plan_overrides=override))
    assert body["error_details"] == {"plan_overrides.charges.0.properties": ["invalid_amount"]}
    # a filter's price too, under the charge's own model
    override = {"charges": [{"code": "tokens", "filters": [{"values": {}, "properties": {"amount": amount}}]}]}
    body = await api.error("POST", "/api/v1/subscriptions", _sub(plan["code"], "s_bad", "cus_o",
                                                                 plan_overrides=override))
    assert body["error_details"] == {"plan_overrides.charges.0.filters.0.properties": ["invalid_amount"]}
    # nothing was stored; the update path refuses the same
    await api.error("GET", "/api/v1/subscriptions/s_bad", status=404)
    await api.ok("POST", "/api/v1/subscriptions", _sub(plan["code"], "s_ok", "cus_o"))
    body = await api.error("PUT", "/api/v1/subscriptions/s_ok", {"subscription": {"plan_overrides": {
        "charges": [{"code": "tokens", "properties": {"amount": amount}}]}}})
    assert body["error_details"] == {"plan_overrides.charges.0.properties": ["invalid_amount"]}
    # a valid override price is still accepted and used
    updated = await api.ok("PUT", "/api/v1/subscriptions/s_ok", {"subscription": {"plan_overrides": {
        "charges": [{"code": "tokens", "properties": {"amount": "0.002"}}]}}})
    assert updated["subscription"]["plan_overrides"]["charges"][0]["properties"] == {"amount": "0.002"}


async def test_null_override_amount_is_refused_not_a_500(api, plans, org):
    plan = await plans.plan()
    await api.customer("cus_n")
    body = await api.error("POST", "/api/v1/subscriptions", _sub(plan["code"], "s_null", "cus_n",
                                                                 plan_overrides={"amount_cents": None}))
    assert "plan_overrides.amount_cents" in body["error_details"]
    await api.ok("POST", "/api/v1/subscriptions", _sub(plan["code"], "s_null", "cus_n"))
    body = await api.error("PUT", "/api/v1/subscriptions/s_null", {"subscription": {
        "plan_overrides": {"amount_cents": None}}})
    assert "plan_overrides.amount_cents" in body["error_details"]
    sub = (await api.ok("GET", "/api/v1/subscriptions/s_null"))["subscription"]
    assert sub["plan_overrides"] == {} and sub["plan_amount_cents"] == 10_000


async def test_trial_subscription_with_huge_event_values(api, plans, subs, org, clock):
    metric = await _metric(plans)
    plan = await _plan_with_charge(plans, metric, trial_period=5)
    await api.customer("cus_t")
    await api.ok("POST", "/api/v1/subscriptions", _sub(plan["code"], "s_trial", "cus_t"))

    def event(value) -> dict:
        return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "s_trial", "code": metric["code"],
                "timestamp": iso(START + timedelta(minutes=5)), "properties": {"tokens": value}}

    body = await api.error("POST", "/api/v1/events/batch", {"events": [
        event("1"), event("9.9e28"), event(10**16), event("-1e16"), event("1e15"), event("0.0000000000001")]})
    assert body["error_details"] == {
        "1": {"properties.tokens": ["value_is_out_of_range"]},
        "2": {"properties.tokens": ["value_is_out_of_range"]},
        "3": {"properties.tokens": ["value_is_out_of_range"]},
        "5": {"properties.tokens": ["value_is_out_of_range"]},
    }
    body = await api.error("POST", "/api/v1/events", {"event": event("9.9e28")})
    assert body["error_details"] == {"properties.tokens": ["value_is_out_of_range"]}
    async with subs.database.sessionmaker() as session:
        stored = (await session.execute(text(
            "SELECT count(*) FROM usage_events e JOIN subscriptions s ON s.id = e.subscription_id "
            "WHERE s.organization_id = :org"), {"org": org})).scalar_one()
    assert stored == 0
    # the largest accepted values, many of them: every read and the period close still answer
    await api.ok("POST", "/api/v1/events/batch", {"events": [event("1e15") for _ in range(1000)]})
    usage = (await api.ok("GET", "/api/v1/customers/cus_t/current_usage",
                          params={"external_subscription_id": "s_trial"}))["customer_usage"]
    assert usage["charges_usage"][0]["units"] == "1000000000000000000"
    assert usage["amount_cents"] == 100_000_000_000_000_000  # 1e18 units × 0.001 EUR, in cents: fits int64
    await api.ok("GET", "/api/v1/customers/cus_t/projected_usage", params={"external_subscription_id": "s_trial"})
    report = await run_pass(subs.database.sessionmaker, START + timedelta(days=30))
    assert report.periods_closed >= 1
    clock.set(START + timedelta(days=31, hours=1))
    await api.ok("DELETE", "/api/v1/subscriptions/s_trial")


async def test_an_amount_beyond_int64_is_capped_never_a_500(api, plans, subs, org, clock):
    """Within the event bounds, only an absurd price reaches 2^63 cents: the amount is capped, nothing fails."""
    metric = await _metric(plans)
    plan = await plans.plan(charges=[{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                                      "properties": {"amount": "99999999999999999999"}}], trial_period=5)
    await api.customer("cus_big")
    await api.ok("POST", "/api/v1/subscriptions", _sub(plan["code"], "s_big", "cus_big"))
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "s_big", "code": metric["code"],
         "timestamp": iso(START + timedelta(minutes=5)), "properties": {"tokens": "1e15"}} for _ in range(10)]})
    usage = (await api.ok("GET", "/api/v1/customers/cus_big/current_usage",
                          params={"external_subscription_id": "s_big"}))["customer_usage"]
    assert usage["amount_cents"] == usage["total_amount_cents"] == 2**63 - 1
    clock.set(START + timedelta(days=2))  # a projection needs a whole day elapsed
    projected = (await api.ok("GET", "/api/v1/customers/cus_big/projected_usage",
                              params={"external_subscription_id": "s_big"}))["customer_projected_usage"]
    assert projected["projected_amount_cents"] == 2**63 - 1
    await api.ok("DELETE", "/api/v1/subscriptions/s_big")
    async with subs.database.sessionmaker() as session:
        amount = (await session.execute(text(
            "SELECT p.usage_amount_cents FROM billing_periods p JOIN subscriptions s ON s.id = p.subscription_id "
            "WHERE s.external_id = 's_big' AND s.organization_id = :org"), {"org": org})).scalar_one()
    assert amount == 2**63 - 1
