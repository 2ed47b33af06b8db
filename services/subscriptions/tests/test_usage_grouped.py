"""Pricing groups (Lago's `pricing_group_keys`, alias `grouped_by`): each distinct combination of the
events' values for a charge's keys is aggregated and priced apart, from the rollups, and reported in
`grouped_usage`; charges that do not group are priced as before."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from subscriptions.subscriptions.scheduler import run_pass
from subscriptions.usage_events.ingest import number

from .conftest import START, Api, Plans  # noqa: TID252
from .test_usage_current import iso, metric  # noqa: TID252
from .test_usage_periods import snapshots  # noqa: TID252

GRADUATED = [{"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "1"},
             {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"}]


async def subscribe(api: Api, plans: Plans, charges: list[dict], external_id: str = "sub_1") -> dict:
    plan = await plans.plan(charges=charges)
    await api.customer("cus_1")
    return (await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": external_id}}))["subscription"]


def ev(code: str, minutes: int = 5, external_id: str = "sub_1", **properties) -> dict:
    return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": external_id, "code": code,
            "timestamp": iso(START + timedelta(minutes=minutes)), "properties": properties}


async def usage(api: Api, path: str = "current_usage", root: str = "customer_usage") -> dict:
    body = (await api.ok("GET", f"/api/v1/customers/cus_1/{path}", params={"external_subscription_id": "sub_1"}))
    return {c["billable_metric"]["code"]: c for c in body[root]["charges_usage"]} | {"": body[root]}


async def test_graduated_charge_priced_per_group(api, plans, clock):
    calls = await metric(plans, "count_agg")
    plain = await metric(plans, "count_agg")
    idle_metric = await metric(plans, "count_agg")
    await subscribe(api, plans, [
        {"billable_metric_id": idle_metric["lago_id"], "charge_model": "standard",
         "properties": {"amount": "1", "grouped_by": ["region", "model"]}},
        {"billable_metric_id": calls["lago_id"], "charge_model": "graduated",
         "properties": {"graduated_ranges": GRADUATED, "pricing_group_keys": ["region"]}},
        {"billable_metric_id": plain["lago_id"], "charge_model": "graduated",
         "properties": {"graduated_ranges": GRADUATED}},
    ])
    events = ([ev(calls["code"], region="eu") for _ in range(8)] + [ev(calls["code"], region="us") for _ in range(12)]
              + [ev(calls["code"]) for _ in range(4)] + [ev(calls["code"], region=None, other="x")]
              + [ev(plain["code"], region=r) for r in ["eu"] * 8 + ["us"] * 12 + [None] * 5])
    await api.ok("POST", "/api/v1/events/batch", {"events": events})
    by_code = await usage(api)
    grouped = by_code[calls["code"]]
    # per group: 1 € flat + 1 € per unit up to 10, then 0.50 €: null 5 → 6 €, eu 8 → 9 €, us 12 → 12 €
    assert grouped["grouped_usage"] == [
        {"units": "5", "total_aggregated_units": "5", "amount_cents": 600, "events_count": 5,
         "grouped_by": {"region": None}, "filters": []},
        {"units": "8", "total_aggregated_units": "8", "amount_cents": 900, "events_count": 8,
         "grouped_by": {"region": "eu"}, "filters": []},
        {"units": "12", "total_aggregated_units": "12", "amount_cents": 1200, "events_count": 12,
         "grouped_by": {"region": "us"}, "filters": []},
    ]
    assert grouped["units"] == "25" and grouped["amount_cents"] == 2700 and grouped["events_count"] == 25
    # the same events on a charge that does not group: 25 units priced once (1 + 10 + 7.50 €)
    ungrouped = by_code[plain["code"]]
    assert ungrouped["grouped_usage"] == [] and ungrouped["units"] == "25" and ungrouped["amount_cents"] == 1850
    assert by_code[""]["amount_cents"] == 2700 + 1850
    projected = (await usage(api, "projected_usage", "customer_projected_usage"))[calls["code"]]
    assert [g["grouped_by"] for g in projected["grouped_usage"]] == [{"region": None}, {"region": "eu"},
                                                                      {"region": "us"}]
    assert all("projected_units" in g and "projected_amount_cents" in g for g in projected["grouped_usage"])
    assert projected["projected_amount_cents"] == sum(g["projected_amount_cents"] for g in projected["grouped_usage"])
    # a grouped charge without events reports one group with every key null
    idle = by_code[idle_metric["code"]]
    assert idle["grouped_usage"] == [{"units": "0", "total_aggregated_units": "0", "amount_cents": 0,
                                      "events_count": 0, "grouped_by": {"region": None, "model": None},
                                      "filters": []}]


async def test_filters_and_groups_together(api, plans, clock):
    """The charge's keys apply to its default slot; a filter groups by its own keys (`grouped_by` alias)."""
    storage = await metric(plans, "sum_agg", filters=[{"key": "tier", "values": ["pro", "free"]}])
    await subscribe(api, plans, [{
        "billable_metric_id": storage["lago_id"], "charge_model": "package",
        "properties": {"amount": "10", "package_size": 10, "free_units": 0, "pricing_group_keys": ["region"]},
        "filters": [{"values": {"tier": ["pro"]}, "invoice_display_name": "Pro",
                     "properties": {"amount": "5", "package_size": 5, "free_units": 0,
                                    "grouped_by": ["region", "model"]}}],
    }])
    code = storage["code"]
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(code, value=3, tier="pro", region="eu", model="a"), ev(code, value=3, tier="pro", region="eu", model="a"),
        ev(code, value=1, tier="pro", region="eu", model="b"), ev(code, value=4, tier="pro", model="a"),
        ev(code, value=7, tier="free", region="eu", model="a"), ev(code, value=12, tier="free", region="us"),
        ev(code, value=3, region="us", model="b"),
    ]})
    charge = (await usage(api))[code]
    pro, default = charge["filters"]
    # pro: (eu, a) 6 → 2 packages, (eu, b) 1 → 1, (null, a) 4 → 1, at 5 € (one group of 11 would be 3 packages)
    assert pro["values"] == {"tier": ["pro"]} and pro["units"] == "11" and pro["amount_cents"] == 2000
    # default: eu 7 → 1 package, us 15 → 2, at 10 €
    assert default["values"] is None and default["units"] == "22" and default["amount_cents"] == 3000
    assert charge["units"] == "33" and charge["amount_cents"] == 5000 and charge["events_count"] == 7

    def entry(units, amount, events, grouped_by, charge_filter):
        usage = {"units": units, "total_aggregated_units": units, "amount_cents": amount, "events_count": events}
        values, name = ({"tier": ["pro"]}, "Pro") if charge_filter else (None, None)
        return {**usage, "grouped_by": grouped_by,
                "filters": [{**usage, "invoice_display_name": name, "values": values}]}

    assert charge["grouped_usage"] == [
        entry("4", 500, 1, {"region": None, "model": "a"}, True),
        entry("6", 1000, 2, {"region": "eu", "model": "a"}, True),
        entry("1", 500, 1, {"region": "eu", "model": "b"}, True),
        entry("7", 1000, 1, {"region": "eu"}, False),
        entry("15", 2000, 2, {"region": "us"}, False),
    ]


async def test_unique_count_per_group_and_once_when_not_grouped(api, plans, clock):
    """A value is counted in each group it is present in; a slot that does not group counts it once,
    as its latest event decided (the value states of its pricing groups merged)."""
    seats = await metric(plans, "unique_count_agg", filters=[{"key": "team", "values": ["red"]}])
    await subscribe(api, plans, [{
        "billable_metric_id": seats["lago_id"], "charge_model": "standard", "properties": {"amount": "1"},
        "filters": [{"values": {"team": ["red"]}, "properties": {"amount": "1", "pricing_group_keys": ["region"]}}],
    }])
    code = seats["code"]
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(code, 1, value="alice", team="red", region="eu"), ev(code, 2, value="alice", team="red", region="us"),
        ev(code, 3, value="bob", team="red", region="eu"),
        ev(code, 4, value="bob", team="red", region="eu", operation_type="remove"),
        ev(code, 1, value="carol", region="eu"), ev(code, 2, value="carol", region="us"),
        ev(code, 3, value="dave", region="us"), ev(code, 9, value="carol", region="eu", operation_type="remove"),
    ]})
    charge = (await usage(api))[code]
    red, default = charge["filters"]
    assert red["units"] == "2" and red["amount_cents"] == 200  # alice in eu and in us; bob removed
    assert default["units"] == "1" and default["amount_cents"] == 100  # carol's latest event removed her: dave
    assert [(g["grouped_by"], g["units"]) for g in charge["grouped_usage"]] == [
        ({"region": "eu"}, "1"), ({"region": "us"}, "1"), ({}, "1")]
    assert charge["grouped_usage"][2]["filters"][0]["values"] is None


async def test_override_keys_and_bad_values(api, plans, subs, org, clock):
    """A subscription's charge override can group: events received after it carry its keys. A group value
    too long for the rollup key is refused like any invalid property."""
    calls = await metric(plans, "count_agg")
    plan = await plans.plan(charges=[{"billable_metric_id": calls["lago_id"], "charge_model": "standard",
                                      "properties": {"amount": "1"}}])
    await api.customer("cus_1")
    charge_id = plan["charges"][0]["lago_id"]
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1",
        "plan_overrides": {"charges": [{"id": charge_id, "properties": {"amount": "2", "grouped_by": ["agent"]}}]}}})
    code = calls["code"]
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(code, agent="a"), ev(code, agent="a"), ev(code, agent=7), ev(code)]})
    charge = (await usage(api))[code]
    assert [(g["grouped_by"], g["units"], g["amount_cents"]) for g in charge["grouped_usage"]] == [
        ({"agent": None}, "1", 200), ({"agent": "7"}, "1", 200), ({"agent": "a"}, "2", 400)]
    body = await api.error("POST", "/api/v1/events/batch", {"events": [
        ev(code, agent="x"), ev(code, agent="y" * 1200)]})
    assert body["error_details"] == {"1": {"properties.agent": ["value_is_too_long"]}}
    async with subs.database.sessionmaker() as session:
        stored = (await session.execute(text(
            "SELECT pricing_group, events_count FROM usage_rollups WHERE organization_id = :org ORDER BY 1"),
            {"org": org})).all()
    assert [tuple(r) for r in stored] == [("", 1), ('{"agent":"7"}', 1), ('{"agent":"a"}', 2)]


async def test_weighted_sum_carry_and_snapshot_per_group(api, plans, subs, org, clock):
    """A recurring weighted sum carries each group's total into the next period; the period's snapshot
    carries `grouped_usage`, with a percentage charge's transactions per group."""
    storage = await metric(plans, "weighted_sum_agg", recurring=True)
    payments = await metric(plans, "sum_agg")
    by_region = {"pricing_group_keys": ["region"]}
    await subscribe(api, plans, [
        {"billable_metric_id": storage["lago_id"], "charge_model": "standard",
         "properties": {"amount": "1"} | by_region},
        {"billable_metric_id": payments["lago_id"], "charge_model": "percentage",
         "properties": {"rate": "10", "fixed_amount": "1"} | by_region},
    ])
    first_end = datetime(2026, 4, 1, tzinfo=UTC)
    half = START + (first_end - START) / 2
    clock.set(half)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(storage["code"], 0, value=10, region="eu"),
        {**ev(storage["code"], value=4, region="us"), "timestamp": iso(half)},
        ev(payments["code"], value="100", region="eu"), ev(payments["code"], value="50", region="us"),
        ev(payments["code"], value="30", region="us")]})
    clock.set(first_end + timedelta(hours=1))
    await run_pass(subs.database.sessionmaker, clock.now())
    [snapshot] = await snapshots(subs, org)
    by_code = {c["billable_metric"]["code"]: c for c in snapshot["usage"]["charges_usage"]}
    held = by_code[storage["code"]]
    # a partial first period (15 March 10:00 → 1 April) is weighed against the whole of March (Lago's
    # charges_duration): 10 held for 16 d 14 h of 31 d, 4 held for half of that
    march = Decimal(31 * 86_400)
    partial = Decimal((first_end - START).total_seconds())
    assert [(g["grouped_by"], Decimal(g["units"])) for g in held["grouped_usage"]] == [
        ({"region": "eu"}, 10 * partial / march), ({"region": "us"}, 4 * (partial / 2) / march)]
    paid = by_code[payments["code"]]
    # 10 % plus 1 € per transaction, per group
    assert [(g["grouped_by"], g["event_values"], g["amount_cents"]) for g in paid["grouped_usage"]] == [
        ({"region": "eu"}, ["100"], 1100), ({"region": "us"}, ["50", "30"], 1000)]
    assert paid["amount_cents"] == 2100 and paid["event_values"] == ["100", "50", "30"]
    # April: no event yet, each group holds what it held at the end of March
    april = (await usage(api))[storage["code"]]
    assert [(g["grouped_by"], Decimal(g["units"])) for g in april["grouped_usage"]] == [
        ({"region": "eu"}, 10), ({"region": "us"}, 4)]
    assert Decimal(april["units"]) == 14


# --- rollup-based grouped units equal a brute-force recomputation from the raw events ---------------

KEYS = {"by_region": ["region"], "by_region_model": ["region", "model"], "plain": None}


@pytest.fixture(scope="module")
async def grouped_setup(subs, catalog):
    org = uuid.uuid4()
    subs.app.state.runtime.clock.set(START)  # the subscription starts at START, whatever an earlier test left
    api = Api(subs.client(org, roles=["admin"]))
    plans = Plans(catalog.client(org, roles=["admin"]))
    metrics = {kind: await metric(plans, kind) for kind in ("sum_agg", "unique_count_agg", "max_agg")}
    charges = []
    for kind, body in metrics.items():
        for name, keys in KEYS.items():
            properties = {"amount": "1"} | ({"pricing_group_keys": keys} if keys else {})
            charges.append({"billable_metric_id": body["lago_id"], "charge_model": "standard",
                            "properties": properties, "invoice_display_name": f"{kind}:{name}"})
    await subscribe(api, plans, charges)
    return org, api, {kind: body["code"] for kind, body in metrics.items()}


def brute_force(kind: str, events: list[dict]) -> Decimal:
    if kind == "sum_agg":
        return sum((number(e["properties"]["value"]) for e in events), Decimal(0))
    if kind == "max_agg":
        return max((number(e["properties"]["value"]) for e in events), default=Decimal(0))
    state = {}
    for e in sorted(events, key=lambda e: (e["timestamp"], e["id"])):
        state[e["properties"]["value"]] = e["properties"].get("operation_type", "add")
    return Decimal(sum(op != "remove" for op in state.values()))


grouped_event = st.fixed_dictionaries({
    "kind": st.sampled_from(["sum_agg", "unique_count_agg", "max_agg"]),
    "minutes": st.integers(0, 10 * 24 * 60),
    "value": st.integers(0, 500),
    "region": st.sampled_from(["eu", "us", None]),
    "model": st.sampled_from(["a", "b", None]),
    "remove": st.booleans(),
})


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(grouped_event, min_size=1, max_size=30))
async def test_grouped_units_equal_brute_force(grouped_setup, subs, clock, batch):
    org, api, codes = grouped_setup
    clock.set(START + timedelta(days=11))
    events = []
    for item in batch:
        properties = {"value": str(item["value"])}
        if item["kind"] == "unique_count_agg":
            properties = {"value": "uvwxyz"[item["value"] % 6]}
            if item["remove"]:
                properties["operation_type"] = "remove"
        for key in ("region", "model"):
            if item[key] is not None:
                properties[key] = item[key]
        events.append(ev(codes[item["kind"]], item["minutes"], **properties))
    await api.ok("POST", "/api/v1/events/batch", {"events": events})
    async with subs.database.sessionmaker() as session:
        raw = [dict(r._mapping) for r in (await session.execute(text(
            "SELECT code, timestamp, properties, id FROM usage_events WHERE organization_id = :org"),
            {"org": org})).all()]
    charges = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                            params={"external_subscription_id": "sub_1"}))["customer_usage"]["charges_usage"]
    for charge in charges:
        kind, name = charge["charge"]["invoice_display_name"].split(":")
        mine = [e for e in raw if e["code"] == codes[kind]]
        keys = KEYS[name]
        if keys is None:
            assert charge["grouped_usage"] == []
            assert Decimal(charge["units"]) == brute_force(kind, mine), (kind, name)
            continue
        expected: dict[str, list[dict]] = {}
        for e in mine:
            grouped_by = {k: None if e["properties"].get(k) is None else str(e["properties"][k]) for k in keys}
            expected.setdefault(json.dumps(grouped_by, sort_keys=True), []).append(e)
        if not expected:  # no event yet: one group, every key null
            expected[json.dumps(dict.fromkeys(keys), sort_keys=True)] = []
        got = {json.dumps(g["grouped_by"], sort_keys=True): g for g in charge["grouped_usage"]}
        assert set(got) == set(expected), (kind, name)
        for group, group_events in expected.items():
            assert Decimal(got[group]["units"]) == brute_force(kind, group_events), (kind, name, group)
            # a unique count's events_count is the unique count (Lago's UniqueCountService)
            assert got[group]["events_count"] == (int(brute_force(kind, group_events))
                                                  if kind == "unique_count_agg" else len(group_events))
            assert got[group]["amount_cents"] == int(brute_force(kind, group_events) * 100)
        assert charge["amount_cents"] == sum(g["amount_cents"] for g in got.values())
