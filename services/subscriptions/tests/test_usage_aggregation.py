"""Every rollup-based aggregation equals a brute-force recomputation from the raw events (hypothesis),
and a failure between the event insert and the rollup update leaves neither."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from subscriptions.usage.aggregate import Bucket, aggregate, matches, rounded, slot_of, split_by_filters
from subscriptions.usage_events import repository
from subscriptions.usage_events.ingest import number
from subscriptions.usage_events.metrics import Metric

from .conftest import START  # noqa: TID252
from .test_usage_events import make_setup  # noqa: TID252

PERIOD_START = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 4, 1, tzinfo=UTC)
KINDS = ("count_agg", "sum_agg", "max_agg", "latest_agg", "weighted_sum_agg", "unique_count_agg")


def metric(kind: str, **fields) -> Metric:
    return Metric(id=uuid.uuid4(), code=kind, aggregation_type=kind, field_name="value", recurring=False,
                  rounding_function=fields.get("rounding_function"), rounding_precision=fields.get("precision"),
                  filters=fields.get("filters", {}))


def brute_force(kind: str, events: list[dict]) -> Decimal:
    values = [(e["timestamp"], e["seq"], number(e["properties"].get("value"))) for e in events]
    if kind == "count_agg":
        return Decimal(len(events))
    if kind == "sum_agg":
        return sum((v for _, _, v in values), Decimal(0))
    if kind == "max_agg":
        return max((v for _, _, v in values), default=Decimal(0))
    if kind == "latest_agg":  # a negative latest value counts as 0 (Lago's LatestService)
        return max(max(values)[2] if values else Decimal(0), Decimal(0))
    if kind == "unique_count_agg":  # each value's latest operation, by timestamp then id, decides
        state = {}
        for e in sorted(events, key=lambda e: (e["timestamp"], e["seq"])):
            state[e["properties"]["value"]] = e["properties"].get("operation_type", "add")
        return Decimal(sum(op != "remove" for op in state.values()))
    duration = Decimal((PERIOD_END - PERIOD_START).total_seconds())
    return sum((v * Decimal((PERIOD_END - t).total_seconds()) for t, _, v in values), Decimal(0)) / duration


@pytest.fixture(scope="module")
async def shared_setup(subs, catalog):
    org = uuid.uuid4()
    from .conftest import Api, Plans  # noqa: TID252
    api = Api(subs.client(org, roles=["admin"]))
    setup = await make_setup(api, Plans(catalog.client(org, roles=["admin"])))
    return org, api, setup


event_strategy = st.fixed_dictionaries({
    "kind": st.sampled_from(KINDS),
    "tx": st.integers(0, 60),
    "seconds": st.integers(-14 * 86_400, 20 * 3_600),
    "value": st.decimals(min_value=-1000, max_value=10_000, places=3, allow_nan=False, allow_infinity=False),
    "region": st.sampled_from(["eu", "us", "asia", None]),
    "operation_type": st.sampled_from(["add", "remove", None]),
})


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(event_strategy, min_size=1, max_size=25))
async def test_rollups_equal_brute_force(shared_setup, subs, clock, batch):
    org, api, setup = shared_setup
    events = []
    for item in batch:
        properties = {"value": str(item["value"])}
        if item["kind"] == "unique_count_agg":  # a few values, added and removed in any order
            properties = {"value": str(int(abs(item["value"])) % 4)}
            if item["operation_type"]:
                properties["operation_type"] = item["operation_type"]
        if item["region"]:
            properties["region"] = item["region"]
        events.append({"transaction_id": f"{item['kind']}-{item['tx']}", "external_subscription_id": setup.external_id,
                       "code": setup.metrics[item["kind"]], "properties": properties,
                       "timestamp": (START + timedelta(seconds=item["seconds"])).isoformat()})
    await api.ok("POST", "/api/v1/events/batch", {"events": events})
    async with subs.database.sessionmaker() as session:
        raw = [dict(r._mapping) for r in (await session.execute(text(
            "SELECT code, timestamp, properties, id FROM usage_events WHERE organization_id = :org ORDER BY id"),
            {"org": org})).all()]
        rows = [dict(r._mapping) for r in (await session.execute(text(
            "SELECT * FROM usage_rollups WHERE organization_id = :org"), {"org": org})).all()]
    for seq, row in enumerate(raw):
        row["seq"] = seq
    for kind in KINDS:
        code = setup.metrics[kind]
        buckets = [Bucket.of(r) for r in rows if r["code"] == code]
        assert {r["period_start"] for r in rows if r["code"] == code} <= {PERIOD_START}
        mine = [e for e in raw if e["code"] == code]
        got = aggregate(metric(kind), buckets, PERIOD_START, PERIOD_END)
        # a unique count's events_count is the unique count (Lago's UniqueCountService)
        assert got.events_count == (int(got.units) if kind == "unique_count_agg" else len(mine))
        assert got.units == brute_force(kind, mine), kind
    # the sum metric is split by region: each filter's units are its events' sum
    code = setup.metrics["sum_agg"]
    filters = [{"values": {"region": ["eu"]}}, {"values": {"region": ["us"]}}]
    matched, rest = split_by_filters(filters, [Bucket.of(r) for r in rows if r["code"] == code])
    mine = [e for e in raw if e["code"] == code]
    for region, buckets in (("eu", matched[0]), ("us", matched[1])):
        expected = brute_force("sum_agg", [e for e in mine if e["properties"].get("region") == region])
        assert aggregate(metric("sum_agg"), buckets, PERIOD_START, PERIOD_END).units == expected
    others = [e for e in mine if e["properties"].get("region") not in ("eu", "us")]
    assert aggregate(metric("sum_agg"), rest, PERIOD_START, PERIOD_END).units == brute_force("sum_agg", others)


unique_event = st.tuples(st.sampled_from("abcd"), st.sampled_from(["add", "remove", None]), st.integers(0, 50))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(batches=st.lists(st.lists(unique_event, min_size=1, max_size=8), min_size=1, max_size=4))
async def test_unique_count_equals_brute_force_whatever_the_arrival_order(shared_setup, subs, clock, batches):
    """Values added and removed in several batches, timestamps in any order (late events included):
    the rollup's count equals the values whose latest event (by timestamp, then id) is not a remove."""
    org, api, setup = shared_setup
    code = setup.metrics["unique_count_agg"]
    for batch in batches:
        await api.ok("POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": uuid.uuid4().hex, "external_subscription_id": setup.external_id, "code": code,
             "timestamp": (START + timedelta(minutes=minute)).isoformat(),
             "properties": {"value": value} | ({"operation_type": op} if op else {})}
            for value, op, minute in batch]})
    async with subs.database.sessionmaker() as session:
        raw = [dict(r._mapping) for r in (await session.execute(text(
            "SELECT timestamp, properties FROM usage_events WHERE organization_id = :org AND code = :code"
            " ORDER BY id"), {"org": org, "code": code})).all()]
        rows = [dict(r._mapping) for r in (await session.execute(text(
            "SELECT * FROM usage_rollups WHERE organization_id = :org AND code = :code"),
            {"org": org, "code": code})).all()]
    for seq, row in enumerate(raw):
        row["seq"] = seq
    got = aggregate(metric("unique_count_agg"), [Bucket.of(r) for r in rows], PERIOD_START, PERIOD_END)
    assert got.units == brute_force("unique_count_agg", raw) and got.events_count == got.units


ALL = "__ALL_FILTER_VALUES__"
filter_values = st.dictionaries(st.sampled_from(["region", "cloud"]), st.one_of(
    st.just(["__ALL_FILTER_VALUES__"]), st.lists(st.sampled_from(["eu", "us", "aws", "gcp"]), min_size=1,
                                                unique=True)), min_size=1)


@settings(max_examples=500, deadline=None)
@given(filters=st.lists(filter_values, min_size=1, max_size=5, unique_by=lambda v: json.dumps(
           {k: sorted(x) for k, x in v.items()}, sort_keys=True)),  # identical filters: Lago's oldest wins
       group=st.dictionaries(st.sampled_from(["region", "cloud"]), st.sampled_from(["eu", "us", "aws", "gcp"])),
       seed=st.randoms())
def test_an_event_goes_to_the_same_filter_whatever_the_order(filters, group, seed):
    """lago-api charge_filters/matching_and_ignored_service.rb: the most specific matching filter takes
    the event whatever the order the filters were listed in; an explicit value beats ALL on the same key,
    and a filter with more keys beats one it is nested in."""
    charge_filters = [{"values": v} for v in filters]
    chosen = slot_of(charge_filters, group)
    shuffled = list(range(len(filters)))
    seed.shuffle(shuffled)
    again = slot_of([charge_filters[i] for i in shuffled], group)
    assert (None if again is None else shuffled[again]) == chosen
    if chosen is None:
        assert not any(matches(values, group) for values in filters)
        return
    assert matches(filters[chosen], group)
    for other, values in enumerate(filters):
        if other == chosen or not matches(values, group):
            continue
        # no other matching filter is strictly narrower than the chosen one: same keys or more, and on
        # each key of the chosen one the same or fewer values (ALL being every value)
        narrower = set(values) >= set(filters[chosen]) and all(
            filters[chosen][k] == [ALL] or (values[k] != [ALL] and set(values[k]) <= set(filters[chosen][k]))
            for k in filters[chosen]) and {k: set(v) for k, v in values.items()} != {
                k: set(v) for k, v in filters[chosen].items()}
        assert not narrower, (values, filters[chosen])


def test_rounding_and_weighted_carry():
    assert rounded(metric("sum_agg", rounding_function="round", precision=1), Decimal("2.25")) == Decimal("2.3")
    assert rounded(metric("sum_agg", rounding_function="ceil"), Decimal("2.01")) == Decimal(3)
    assert rounded(metric("sum_agg", rounding_function="floor", precision=2), Decimal("-2.011")) == Decimal("-2.02")
    assert rounded(metric("sum_agg"), Decimal("2.011")) == Decimal("2.011")
    # 10 held for the whole period (carried in) plus 5 added half-way: 12.5 on average
    half = PERIOD_START + (PERIOD_END - PERIOD_START) / 2
    bucket = Bucket({}, 1, Decimal(5), Decimal(5), Decimal(5), half, Decimal(5) * repository.epoch_seconds(half))
    units = aggregate(metric("weighted_sum_agg"), [bucket], PERIOD_START, PERIOD_END, carried=Decimal(10)).units
    assert units == Decimal("12.5")
    # divided by the full period when it is longer (a partial first period, Lago's charges_duration)
    full = 2 * (PERIOD_END - PERIOD_START).total_seconds()
    assert aggregate(metric("weighted_sum_agg"), [bucket], PERIOD_START, PERIOD_END, carried=Decimal(10),
                     full_period_seconds=int(full)).units == Decimal("6.25")
    assert aggregate(metric("max_agg"), [], PERIOD_START, PERIOD_END).units == 0


async def test_failure_between_the_event_insert_and_the_rollup_update_leaves_neither(api, plans, subs, org):
    """The write is one statement: when the rollup upsert fails after the events were inserted (a trigger
    raising, as a crash or a constraint would), no event of the batch is stored and no rollup moves."""
    setup = await make_setup(api, plans)

    def event(tx: str) -> dict:
        return {"event": {"transaction_id": tx, "external_subscription_id": setup.external_id,
                          "code": setup.metrics["count_agg"]}}

    await api.ok("POST", "/api/v1/events", event("first"))  # caches warm: the write runs without BEGIN
    async with subs.database.sessionmaker() as session:
        await session.execute(text(f"""
            CREATE FUNCTION fail_rollup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                IF NEW.organization_id = '{org}' THEN RAISE EXCEPTION 'rollup update failed'; END IF;
                RETURN NEW;
            END $$"""))
        await session.execute(text("CREATE TRIGGER fail_rollup BEFORE INSERT OR UPDATE ON usage_rollups "
                                   "FOR EACH ROW EXECUTE FUNCTION fail_rollup()"))
        await session.commit()
    try:
        try:  # the in-process transport re-raises the app's exception; over HTTP it is a 500
            response = await api.client.post("/api/v1/events", json=event("second"))
        except Exception as error:  # noqa: BLE001
            assert "rollup update failed" in str(error)
        else:
            assert response.status_code == 500
    finally:
        async with subs.database.sessionmaker() as session:
            await session.execute(text("DROP TRIGGER fail_rollup ON usage_rollups"))
            await session.execute(text("DROP FUNCTION fail_rollup()"))
            await session.commit()

    async def stored() -> tuple[list[str], int]:
        async with subs.database.sessionmaker() as session:
            events = (await session.execute(text(
                "SELECT transaction_id FROM usage_events WHERE organization_id = :org ORDER BY 1"),
                {"org": org})).scalars().all()
            counted = (await session.execute(text(
                "SELECT sum(events_count) FROM usage_rollups WHERE organization_id = :org"), {"org": org})).scalar_one()
        return list(events), counted

    assert await stored() == (["first"], 1)
    again = await api.ok("POST", "/api/v1/events", event("second"))  # the retry is stored and counted, once
    assert again["event"]["duplicate"] is False
    assert await stored() == (["first", "second"], 2)
