"""Usage events: ingestion (idempotent, all-or-nothing, validated by index), reads, rollups vs raw events."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import jsonschema_rs
from sqlalchemy import text

from subscriptions.usage_events.ingest import group_key, number
from subscriptions.usage_events.metrics import Metric

from .conftest import START  # noqa: TID252

AGGREGATIONS = ("count_agg", "sum_agg", "max_agg", "latest_agg", "weighted_sum_agg", "unique_count_agg")


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


class Setup:
    def __init__(self, plan: dict, metrics: dict[str, dict], subscription: dict) -> None:
        self.plan, self.metrics, self.subscription = plan, metrics, subscription

    @property
    def external_id(self) -> str:
        return self.subscription["external_id"]


async def make_setup(api, plans, external_id: str = "sub_1") -> Setup:
    metrics = {}
    for aggregation in AGGREGATIONS:
        body = {"name": aggregation, "code": f"{aggregation}_{uuid.uuid4().hex[:6]}", "aggregation_type": aggregation,
                "field_name": None if aggregation == "count_agg" else "value"}
        if aggregation == "sum_agg":
            body["filters"] = [{"key": "region", "values": ["eu", "us"]}]
        metrics[aggregation] = (await plans.api.ok("POST", "/api/v1/billable_metrics",
                                                   {"billable_metric": body}))["billable_metric"]
    charges = [{"billable_metric_id": m["lago_id"], "charge_model": "standard", "properties": {"amount": "0.5"}}
               for m in metrics.values()]
    plan = await plans.plan(charges=charges)
    await api.customer("cus_1")
    subscription = (await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": external_id}}))["subscription"]
    return Setup(plan, {k: v["code"] for k, v in metrics.items()}, subscription)


def event(setup: Setup, aggregation: str, transaction_id: str | None = None, value=1, **fields) -> dict:
    return {"transaction_id": transaction_id or uuid.uuid4().hex, "external_subscription_id": setup.external_id,
            "code": setup.metrics[aggregation], "timestamp": iso(START), "properties": {"value": value}, **fields}


async def rollups(subs, org) -> dict:
    async with subs.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT code, group_key, events_count, value_sum, value_max, latest_value, weighted_moment "
            "FROM usage_rollups WHERE organization_id = :org"), {"org": org})).all()
    return {(r.code, r.group_key): r for r in rows}


async def count_events(subs, org) -> int:
    async with subs.database.sessionmaker() as session:
        return (await session.execute(text("SELECT count(*) FROM usage_events WHERE organization_id = :org"),
                                      {"org": org})).scalar_one()


async def test_single_event_roundtrip_and_duplicate(api, plans, subs, org):
    setup = await make_setup(api, plans)
    sent = event(setup, "sum_agg", "tx-1", value="2.5", precise_total_amount_cents="12.34",
                 properties={"value": "2.5", "region": "eu"})
    created = (await api.ok("POST", "/api/v1/events", {"event": sent}))["event"]
    assert created["transaction_id"] == "tx-1" and created["duplicate"] is False
    assert created["lago_subscription_id"] == setup.subscription["lago_id"]
    assert created["precise_total_amount_cents"] == "12.34" and created["timestamp"] == iso(START)
    again = (await api.ok("POST", "/api/v1/events", {"event": {**sent, "properties": {"value": 99}}}))["event"]
    assert again["duplicate"] is True and again["lago_id"] == created["lago_id"]
    assert again["properties"] == {"value": "2.5", "region": "eu"}
    fetched = (await api.ok("GET", "/api/v1/events/tx-1"))["event"]
    assert fetched["lago_id"] == created["lago_id"] and fetched["code"] == setup.metrics["sum_agg"]
    await api.error("GET", "/api/v1/events/nope", status=404)
    rolled = await rollups(subs, org)
    row = rolled[(setup.metrics["sum_agg"], '{"region":"eu"}')]
    assert row.events_count == 1 and row.value_sum == Decimal("2.5")


async def test_batch_duplicates_in_and_across_batches(api, plans, subs, org):
    setup = await make_setup(api, plans)
    batch = [event(setup, "count_agg", "a"), event(setup, "count_agg", "b"), event(setup, "count_agg", "a")]
    answered = (await api.ok("POST", "/api/v1/events/batch", {"events": batch}))["events"]
    assert [e["duplicate"] for e in answered] == [False, False, True]
    assert answered[2]["lago_id"] == answered[0]["lago_id"]
    answered = (await api.ok("POST", "/api/v1/events/batch", {"events": [
        event(setup, "count_agg", "b"), event(setup, "count_agg", "c")]}))["events"]
    assert [e["duplicate"] for e in answered] == [True, False]
    assert await count_events(subs, org) == 3
    assert (await rollups(subs, org))[(setup.metrics["count_agg"], "")].events_count == 3


async def test_batch_is_all_or_nothing_with_errors_by_index(api, plans, subs, org, clock):
    setup = await make_setup(api, plans)
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": setup.plan["code"], "external_id": "gone"}})
    await api.ok("DELETE", "/api/v1/subscriptions/gone")
    batch = [
        event(setup, "count_agg"),
        event(setup, "count_agg", code="no_such_metric"),
        event(setup, "sum_agg", properties={}),
        event(setup, "max_agg", value="many"),
        event(setup, "count_agg", external_subscription_id="unknown"),
        event(setup, "count_agg", external_subscription_id="gone"),
        event(setup, "count_agg", timestamp=iso(START + timedelta(days=3))),
        event(setup, "count_agg", timestamp="yesterday"),
        event(setup, "weighted_sum_agg", value=True),
        event(setup, "count_agg", precise_total_amount_cents="abc"),
    ]
    body = await api.error("POST", "/api/v1/events/batch", {"events": batch})
    assert body["code"] == "validation_errors"
    assert body["error_details"] == {
        "1": {"code": ["billable_metric_not_found"]},
        "2": {"properties.value": ["value_is_mandatory"]},
        "3": {"properties.value": ["value_is_not_numeric"]},
        "4": {"external_subscription_id": ["subscription_not_found"]},
        "5": {"external_subscription_id": ["subscription_is_terminated"]},
        "6": {"timestamp": ["timestamp_is_too_far_in_the_future"]},
        "7": {"timestamp": ["invalid_timestamp"]},
        "8": {"properties.value": ["value_is_not_numeric"]},
        "9": {"precise_total_amount_cents": ["value_is_invalid"]},
    }
    assert await count_events(subs, org) == 0 and await rollups(subs, org) == {}
    single = await api.error("POST", "/api/v1/events", {"event": batch[1]})
    assert single["error_details"] == {"code": ["billable_metric_not_found"]}
    # shape errors, sizes
    await api.error("POST", "/api/v1/events/batch", {"events": []})
    await api.error("POST", "/api/v1/events/batch", {"events": [event(setup, "count_agg")] * 1001})
    await api.error("POST", "/api/v1/events", {"event": {"code": "x"}})
    await api.error("POST", "/api/v1/events", {"nope": {}}, status=400)
    await api.error("POST", "/api/v1/events", {"event": {**batch[0], "transaction_id": "a\x00b"}})
    # unix timestamps, as numbers or strings
    answered = (await api.ok("POST", "/api/v1/events/batch", {"events": [
        event(setup, "count_agg", timestamp=int(START.timestamp())),
        event(setup, "count_agg", timestamp=f"{START.timestamp() + 0.25}"),
        event(setup, "count_agg", timestamp=None)]}))["events"]
    assert [e["timestamp"] for e in answered] == [iso(START), "2026-03-15T10:00:00.250000Z", iso(clock.now())]


async def test_exactly_once_under_concurrent_duplicates(api, plans, subs, org):
    setup = await make_setup(api, plans)
    ids = [f"tx-{i}" for i in range(200)]

    async def send(offset: int):
        rotated = ids[offset:] + ids[:offset]
        batch = [event(setup, "sum_agg", tx, value=1) for tx in rotated[:100]]
        return (await api.ok("POST", "/api/v1/events/batch", {"events": batch}))["events"]

    answers = await asyncio.gather(*(send(offset) for offset in (0, 50, 100, 150, 0, 100)))
    fresh = sum(1 for batch in answers for e in batch if not e["duplicate"])
    assert fresh == 200
    assert await count_events(subs, org) == 200
    assert sum(r.events_count for r in (await rollups(subs, org)).values()) == 200


async def test_list_filters_and_organization_isolation(api, plans, make_api, subs, org):
    setup = await make_setup(api, plans)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        event(setup, "count_agg", "x1"), event(setup, "sum_agg", "x2", timestamp=iso(START - timedelta(days=1))),
        event(setup, "count_agg", "x3", timestamp=iso(START - timedelta(days=2)))]})
    listed = await api.ok("GET", "/api/v1/events", params={"code": setup.metrics["count_agg"], "per_page": 1})
    assert listed["meta"]["total_count"] == 2 and len(listed["events"]) == 1
    window = await api.ok("GET", "/api/v1/events", params={
        "timestamp_from": iso(START - timedelta(days=1, hours=1)), "timestamp_to": iso(START - timedelta(hours=1)),
        "external_subscription_id": setup.external_id})
    assert [e["transaction_id"] for e in window["events"]] == ["x2"]
    await api.error("GET", "/api/v1/events", params={"timestamp_from": "soon"})
    other = make_api(uuid.uuid4())
    assert (await other.ok("GET", "/api/v1/events"))["events"] == []
    await other.error("GET", "/api/v1/events/x1", status=404)
    body = await other.error("POST", "/api/v1/events", {"event": event(setup, "count_agg")})
    assert body["error_details"] == {"external_subscription_id": ["subscription_not_found"]}
    service_key = make_api(org, roles=("service",))
    await service_key.error("POST", "/api/v1/events", {"event": event(setup, "count_agg")}, status=403)


def test_value_parsing_and_groups():
    assert number("1e3") == Decimal(1000) and number(True) is None and number("NaN") is None
    assert number({"a": 1}) is None and number("1" * 40) is None
    metric = Metric(id=uuid.uuid4(), code="m", aggregation_type="sum_agg", field_name="v", recurring=False,
                    rounding_function=None, rounding_precision=None,
                    filters={"region": frozenset({"eu"}), "tier": frozenset({"1", "2"})})
    assert group_key(metric, {"region": "eu", "tier": 2}) == json.dumps({"region": "eu", "tier": "2"},
                                                                          separators=(",", ":"))
    assert group_key(metric, {"region": "asia"}) == ""


def _documented(document: dict, schema: dict) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for({**schema, "components": document["components"]}, validate_formats=True)


async def test_batch_errors_are_keyed_by_index_as_documented(api, plans, subs, org):
    setup = await make_setup(api, plans)
    document = (await api.client.get("/openapi.json")).json()
    documented = _documented(document, document["paths"]["/api/v1/events/batch"]["post"]["responses"]["422"][
        "content"]["application/json"]["schema"])
    # errors of the schema (missing fields, NUL) are keyed by index, like the business rules' errors
    body = await api.error("POST", "/api/v1/events/batch", {"events": [
        event(setup, "count_agg"), {"code": "x"}, event(setup, "count_agg", transaction_id="a\x00b"), 7]})
    assert body["error_details"] == {
        "1": {"transaction_id": ["value_is_mandatory"], "external_subscription_id": ["value_is_mandatory"]},
        "2": {"transaction_id": ["invalid_characters"]},
        "3": {"events": ["invalid_type"]},
    }
    assert documented.is_valid(body), body
    business = await api.error("POST", "/api/v1/events/batch", {"events": [
        event(setup, "count_agg"), event(setup, "count_agg", code="no_such_metric")]})
    assert business["error_details"] == {"1": {"code": ["billable_metric_not_found"]}}
    assert documented.is_valid(business), business
    whole = await api.error("POST", "/api/v1/events/batch", {"events": []})
    assert whole["error_details"] == {"events": ["too_few_items"]} and documented.is_valid(whole)
    assert await count_events(subs, org) == 0
    # a single event's errors stay flat
    single = await api.error("POST", "/api/v1/events", {"event": {"code": "x"}})
    assert set(single["error_details"]) == {"transaction_id", "external_subscription_id"}


async def test_list_query_edge_cases_agree_with_the_document(api, plans):
    setup = await make_setup(api, plans)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        event(setup, "count_agg", "early", timestamp=iso(START - timedelta(hours=2))),
        event(setup, "count_agg", "late", timestamp=iso(START))]})
    document = (await api.client.get("/openapi.json")).json()
    parameters = {p["name"]: _documented(document, p["schema"])
                  for p in document["paths"]["/api/v1/events"]["get"]["parameters"]}
    cases = [("code", "", "value_is_too_short"), ("external_subscription_id", "", "value_is_too_short"),
             ("code", "a\x00", "invalid_characters"), ("timestamp_to", "0.5", "invalid_date"),
             ("timestamp_to", "1700000000", "invalid_date"), ("timestamp_from", "2026-03-15", "invalid_date"),
             ("timestamp_to", "3000-01-01T00:00:00Z", "value_is_out_of_range")]
    for name, value, code in cases:
        body = await api.error("GET", "/api/v1/events", params={name: value})
        assert body["error_details"] == {name: [code]}, (name, value, body)
        assert not parameters[name].is_valid(value), (name, value)
    # a timestamp without offset is UTC (Lago), and both bounds are inclusive
    bound = START - timedelta(hours=2)
    for value in (bound.replace(tzinfo=None).isoformat(), iso(bound), "2026-03-15T09:00:00+01:00"):
        assert parameters["timestamp_to"].is_valid(value)
        listed = await api.ok("GET", "/api/v1/events", params={"timestamp_to": value})
        assert [e["transaction_id"] for e in listed["events"]] == ["early"], value
    listed = await api.ok("GET", "/api/v1/events", params={"timestamp_from": iso(START)})
    assert [e["transaction_id"] for e in listed["events"]] == ["late"]
