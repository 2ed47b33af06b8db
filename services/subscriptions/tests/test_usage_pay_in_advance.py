"""Charges paid in advance at ingestion: one `subscription.pay_in_advance_usage` per (stored event, charge),
committed with the event, whose units chain exactly (before → after) even with concurrent batches; and the fee
estimates (`/events/estimate_fees`, `/events/estimate_instant_fees`, `/events/batch_estimate_instant_fees`),
which write nothing."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from sqlalchemy import text

from .conftest import START  # noqa: TID252
from .test_usage_events import count_events, iso  # noqa: TID252

GRADUATED = {"graduated_ranges": [
    {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
    {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"}]}


async def advance_events(subs, org) -> list[dict]:
    async with subs.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = 'subscription.pay_in_advance_usage' "
            "AND envelope->>'organization_id' = :org ORDER BY position"), {"org": str(org)})).scalars().all()
    return [row["data"] for row in rows]


async def setup(api, plans, aggregation: str = "sum_agg", invoiceable: bool = True, filters: list | None = None,
                charge_model: str = "graduated", properties: dict | None = None, external_id: str = "sub_adv"):
    metric_body = {"name": "Storage", "code": f"gb_{uuid.uuid4().hex[:6]}", "aggregation_type": aggregation}
    if aggregation != "count_agg":
        metric_body["field_name"] = "gb"
    if filters:
        metric_body["filters"] = filters
    metric = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": metric_body}))[
        "billable_metric"]
    arrears = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "Calls", "code": f"calls_{uuid.uuid4().hex[:6]}", "aggregation_type": "count_agg"}}))[
        "billable_metric"]
    plan = await plans.plan(charges=[
        {"billable_metric_id": metric["lago_id"], "charge_model": charge_model, "pay_in_advance": True,
         "invoiceable": invoiceable, "properties": properties or GRADUATED},
        {"billable_metric_id": arrears["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}}])
    customer = await api.customer()
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": customer["external_id"], "plan_code": plan["code"], "external_id": external_id}})
    return metric["code"], arrears["code"], customer


def event(code: str, external_id: str = "sub_adv", transaction_id: str | None = None, **properties) -> dict:
    return {"transaction_id": transaction_id or uuid.uuid4().hex, "external_subscription_id": external_id,
            "code": code, "timestamp": iso(START), "properties": properties}


async def test_each_stored_event_publishes_its_units_once_chained(api, plans, subs, org, clock):
    code, arrears, _ = await setup(api, plans)
    await api.ok("POST", "/api/v1/events", {"event": event(code, transaction_id="t1", gb=4)})
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        event(code, transaction_id="t2", gb=5), event(code, transaction_id="t3", gb="2.5"),
        event(arrears), event(code, transaction_id="t1", gb=4)]})  # t1 again: a duplicate
    published = await advance_events(subs, org)
    assert [(e["transaction_id"], e["units_before"], e["units_after"]) for e in published] == [
        ("t1", "0", "4"), ("t2", "4", "9"), ("t3", "9", "11.5")]
    assert {e["subscription"]["external_id"] for e in published} == {"sub_adv"}
    # the events the lock and the chain are about are stored, and only once
    assert await count_events(subs, org) == 4


async def test_concurrent_batches_chain_without_overlap(api, plans, subs, org, clock):
    code, _, _ = await setup(api, plans, aggregation="count_agg", charge_model="standard",
                             properties={"amount": "1"})
    batches = [[event(code) for _ in range(5)] for _ in range(6)]
    await asyncio.gather(*(api.ok("POST", "/api/v1/events/batch", {"events": b}) for b in batches))
    published = await advance_events(subs, org)
    spans = sorted((Decimal(e["units_before"]), Decimal(e["units_after"])) for e in published)
    assert len(spans) == 30
    # contiguous from 0 to 30, one unit each: no two events priced over the same units
    assert spans == [(Decimal(i), Decimal(i + 1)) for i in range(30)]


async def test_filters_and_not_invoiceable_are_carried(api, plans, subs, org, clock):
    code, _, _ = await setup(api, plans, filters=[{"key": "region", "values": ["eu", "us"]}], invoiceable=False,
                             charge_model="standard", properties={"amount": "1"}, external_id="sub_f")
    # the charge with a filter: set on the plan after creation would be a new version; use an override instead
    published_before = len(await advance_events(subs, org))
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        event(code, "sub_f", gb=2, region="eu"), event(code, "sub_f", gb=3, region="us")]})
    published = (await advance_events(subs, org))[published_before:]
    # no charge filter on this plan: both events are in the default slot, chained
    assert [(e["units_before"], e["units_after"], e["lago_charge_filter_id"]) for e in published] == [
        ("0", "2", None), ("2", "5", None)]


async def outbox_count(subs, org) -> int:
    async with subs.database.sessionmaker() as session:
        return (await session.execute(text(
            "SELECT count(*) FROM outbox_events WHERE envelope->>'organization_id' = :org"), {"org": str(org)})
        ).scalar_one()


async def test_estimate_fees_prices_the_next_units_and_writes_nothing(api, plans, subs, org, clock, make_api):
    code, arrears, customer = await setup(api, plans)
    await api.ok("POST", "/api/v1/events", {"event": event(code, gb=9)})
    stored, published = await count_events(subs, org), await outbox_count(subs, org)
    body = {"event": {"code": code, "external_subscription_id": "sub_adv", "properties": {"gb": 3},
                      "transaction_id": "est-1"}}
    [fee] = (await api.ok("POST", "/api/v1/events/estimate_fees", body))["fees"]
    # 9 stored: the 10th unit at 1.00, the 11th and 12th at 0.50 (the second tier)
    assert (fee["amount_cents"], fee["units"], fee["lago_id"], fee["event_transaction_id"]) == (200, "3", None, "est-1")
    assert fee["pay_in_advance"] is True and fee["item"]["code"] == code and fee["total_amount_cents"] == 200
    assert await count_events(subs, org) == stored and await outbox_count(subs, org) == published
    # graduated is not an instant model
    refused = await api.error("POST", "/api/v1/events/estimate_instant_fees", body)
    assert refused["error_details"] == {"code": ["does_not_match_an_instant_charge"]}
    # a metric charged in arrears only; a metric the plan does not charge; a missing field; no event at all
    assert (await api.error("POST", "/api/v1/events/estimate_fees", {"event": {
        "code": arrears, "external_subscription_id": "sub_adv"}}))["error_details"] == {
        "code": ["does_not_match_an_instant_charge"]}
    await api.error("POST", "/api/v1/events/estimate_fees", {"event": {
        "code": "nope", "external_subscription_id": "sub_adv"}}, status=404)
    assert (await api.error("POST", "/api/v1/events/estimate_fees", {"event": {
        "code": code, "external_subscription_id": "sub_adv", "properties": {}}}))["error_details"] == {
        "properties.gb": ["value_is_mandatory"]}
    assert (await api.error("POST", "/api/v1/events/estimate_fees", {"event": {
        "code": code, "external_subscription_id": "sub_adv", "properties": {"gb": "lots"}}}))["error_details"] == {
        "properties.gb": ["value_is_not_numeric"]}
    missing = await api.client.post("/api/v1/events/estimate_fees", json={})
    assert 400 <= missing.status_code < 500
    # organizations and tenant keys
    await make_api(uuid.uuid4()).error("POST", "/api/v1/events/estimate_fees", body, status=404)
    await make_api(org, roles=("tenant",), customer_id=uuid.uuid4()).error(
        "POST", "/api/v1/events/estimate_fees", body, status=403)
    mine = make_api(org, roles=("tenant",), customer_id=uuid.UUID(customer["lago_id"]))
    assert [f["amount_cents"] for f in (await mine.ok("POST", "/api/v1/events/estimate_fees", body))["fees"]] == [200]


async def test_instant_estimates_price_the_event_alone(api, plans, subs, org, clock):
    code, _, _ = await setup(api, plans, charge_model="standard", properties={"amount": "2.5"}, invoiceable=False)
    await api.ok("POST", "/api/v1/events", {"event": event(code, gb=100)})
    one = {"code": code, "external_subscription_id": "sub_adv", "properties": {"gb": "3"}}
    [fee] = (await api.ok("POST", "/api/v1/events/estimate_instant_fees", {"event": one}))["fees"]
    assert (fee["amount_cents"], fee["units"], fee["invoiceable"]) == (750, "3", False)
    fees = (await api.ok("POST", "/api/v1/events/batch_estimate_instant_fees", {"events": [
        one, {"event": {**one, "properties": {"gb": 1}}}]}))["fees"]
    assert [f["amount_cents"] for f in fees] == [750, 250]
    body = await api.error("POST", "/api/v1/events/batch_estimate_instant_fees", {"events": [
        one, {**one, "external_subscription_id": "sub_nope"}, {**one, "properties": {}}]})
    assert body["error_details"] == {"1": {"external_subscription_id": ["subscription_not_found"]},
                                     "2": {"properties.gb": ["value_is_mandatory"]}}
    too_many = await api.error("POST", "/api/v1/events/batch_estimate_instant_fees", {"events": [one] * 101})
    assert too_many["error_details"] == {"events": ["too_many_items"]}


async def test_unique_count_and_charge_filters(api, plans, subs, org, clock):
    """A unique count paid in advance (its units read from the period's usage): a value already counted adds
    nothing; a charge filter's events chain in their own slot, the rest in the default's."""
    users = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "Users", "code": f"users_{uuid.uuid4().hex[:6]}", "aggregation_type": "unique_count_agg",
        "field_name": "user"}}))["billable_metric"]
    gb = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "GB", "code": f"gb_{uuid.uuid4().hex[:6]}", "aggregation_type": "sum_agg", "field_name": "gb",
        "filters": [{"key": "region", "values": ["eu", "us"]}]}}))["billable_metric"]
    plan = await plans.plan(charges=[
        {"billable_metric_id": users["lago_id"], "charge_model": "standard", "pay_in_advance": True,
         "properties": {"amount": "3"}},
        {"billable_metric_id": gb["lago_id"], "charge_model": "standard", "pay_in_advance": True,
         "properties": {"amount": "1"},
         "filters": [{"values": {"region": ["eu"]}, "properties": {"amount": "2"}}]}])
    customer = await api.customer()
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": customer["external_id"], "plan_code": plan["code"], "external_id": "sub_uf"}})
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        event(users["code"], "sub_uf", "u1", user="ann"), event(users["code"], "sub_uf", "u2", user="bob"),
        event(users["code"], "sub_uf", "u3", user="ann")]})
    await api.ok("POST", "/api/v1/events", {"event": event(users["code"], "sub_uf", "u4", user="cid")})
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        event(gb["code"], "sub_uf", "g1", gb=2, region="eu"), event(gb["code"], "sub_uf", "g2", gb=3, region="us"),
        event(gb["code"], "sub_uf", "g3", gb=1, region="eu")]})
    published = {e["transaction_id"]: e for e in await advance_events(subs, org)}
    assert [(published[t]["units_before"], published[t]["units_after"]) for t in ("u1", "u2", "u3", "u4")] == [
        ("0", "1"), ("1", "2"), ("2", "2"), ("2", "3")]
    eu = {published[t]["lago_charge_filter_id"] for t in ("g1", "g3")}
    assert len(eu) == 1 and None not in eu and published["g2"]["lago_charge_filter_id"] is None
    assert [(published[t]["units_before"], published[t]["units_after"]) for t in ("g1", "g3", "g2")] == [
        ("0", "2"), ("2", "3"), ("0", "3")]
