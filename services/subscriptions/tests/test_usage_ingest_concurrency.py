"""Ingestion under concurrency and at the edges of its fast paths: concurrent batches sharing
subscriptions (no deadlock, every transaction id stored and counted once, rollups equal to the
stored events), instants stored to the microsecond, and the cached billing periods equal to the
schedule's."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from invora.periods import Schedule
from subscriptions.usage_events import buckets
from subscriptions.usage_events.ingest import EventSubscription, micros

from .conftest import START  # noqa: TID252
from .test_usage_events import count_events, iso, make_setup  # noqa: TID252

REGIONS = ("eu", "us", "asia")  # the sum metric's filter allows eu and us


def value_of(transaction_id: str) -> Decimal:
    return Decimal(int(transaction_id.split("-")[1]) % 7) + Decimal("0.25")


async def test_concurrent_batches_sharing_subscriptions(api, plans, subs, org):
    setup = await make_setup(api, plans)
    lago_ids = {setup.external_id: setup.subscription["lago_id"]}
    for n in (2, 3, 4):
        created = (await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_1", "plan_code": setup.plan["code"], "external_id": f"sub_{n}"}}))
        lago_ids[f"sub_{n}"] = created["subscription"]["lago_id"]
    sent: dict[tuple[str, str], dict] = {}
    for round_ in range(3):  # overlapping batches deadlock only now and then when the lock order is wrong
        seeded = random.Random(round_)
        pool = [(seeded.choice(list(lago_ids)), f"tx-{round_ * 1000 + i}", seeded.choice(REGIONS))
                for i in range(150)]
        batches = [batch(setup, pool, seed) for seed in range(8)]
        answers = await asyncio.gather(*(api.ok("POST", "/api/v1/events/batch", {"events": b}) for b in batches))
        fresh = [e for answer in answers for e in answer["events"] if not e["duplicate"]]
        sent_now = {(e["external_subscription_id"], e["transaction_id"]): e for b in batches for e in b}
        assert len(fresh) == len(sent_now) == len({(e["external_subscription_id"], e["transaction_id"])
                                                   for e in fresh})
        check_answers(batches, answers, lago_ids)
        # every answer, new or duplicate (in the batch, or stored by a concurrent one), names the stored event
        stored = {(e["external_subscription_id"], e["transaction_id"]): e["lago_id"] for e in fresh}
        assert all(e["lago_id"] == stored[(e["external_subscription_id"], e["transaction_id"])]
                   for answer in answers for e in answer["events"])
        sent.update(sent_now)
    assert await count_events(subs, org) == len(sent)

    expected: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for (sub, _tx), event in sent.items():
        region = event["properties"]["region"]
        group = f'{{"region":"{region}"}}' if region in ("eu", "us") else ""
        count, total = expected.get((lago_ids[sub], group), (0, Decimal(0)))
        expected[(lago_ids[sub], group)] = (count + 1, total + Decimal(event["properties"]["value"]))
    async with subs.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT subscription_id, group_key, events_count, value_sum FROM usage_rollups "
            "WHERE organization_id = :org AND code = :code"), {"org": org, "code": setup.metrics["sum_agg"]})).all()
    assert {(str(r.subscription_id), r.group_key): (r.events_count, r.value_sum) for r in rows} == expected


def batch(setup, pool: list[tuple[str, str, str]], seed: int) -> list[dict]:
    chooser = random.Random(seed)
    chosen = chooser.sample(pool, 80)
    chosen += chooser.sample(chosen, 10)  # repeated within the batch
    if seed % 2:
        chosen.sort(reverse=True)  # opposite orders: the lock order must not depend on the sender's
    return [{"transaction_id": tx, "external_subscription_id": sub, "code": setup.metrics["sum_agg"],
             "timestamp": iso(START), "properties": {"value": str(value_of(tx)), "region": region}}
            for sub, tx, region in chosen]


def check_answers(batches: list[list[dict]], answers: list[dict], lago_ids: dict[str, str]) -> None:
    for b, answer in zip(batches, answers, strict=True):
        first: dict[tuple[str, str], str] = {}
        for event, answered in zip(b, answer["events"], strict=True):
            key = (event["external_subscription_id"], event["transaction_id"])
            assert answered["transaction_id"] == event["transaction_id"]
            assert answered["lago_subscription_id"] == lago_ids[key[0]]
            if key in first:  # a repeat in the batch answers the first one's event
                assert answered["duplicate"] and answered["lago_id"] == first[key]
            first.setdefault(key, answered["lago_id"])


async def test_instants_are_stored_to_the_microsecond(api, plans, subs, org):
    setup = await make_setup(api, plans)
    instant = START - timedelta(hours=1, microseconds=876_544)
    seconds = f"{instant.timestamp():.6f}"
    answered = (await api.ok("POST", "/api/v1/events/batch", {"events": [
        {"transaction_id": "iso", "external_subscription_id": setup.external_id, "code": setup.metrics["latest_agg"],
         "timestamp": iso(instant), "properties": {"value": 3}},
        {"transaction_id": "unix", "external_subscription_id": setup.external_id,
         "code": setup.metrics["latest_agg"], "timestamp": float(seconds), "properties": {"value": 4}},
    ]}))["events"]
    assert [e["timestamp"] for e in answered] == [iso(instant)] * 2
    for transaction_id in ("iso", "unix"):
        assert (await api.ok("GET", f"/api/v1/events/{transaction_id}"))["event"]["timestamp"] == iso(instant)
    async with subs.database.sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT events_count, latest_value, latest_at, weighted_moment FROM usage_rollups "
            "WHERE organization_id = :org AND code = :code"), {"org": org, "code": setup.metrics["latest_agg"]})).one()
    # both at the same instant: the latest is the one sent last; Σ value × epoch seconds, exact
    assert row.events_count == 2 and row.latest_value == 4 and row.latest_at == instant
    assert row.weighted_moment == 7 * Decimal(micros(instant)) / 1_000_000


ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Apia")
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2032, 1, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(interval=st.sampled_from(("weekly", "monthly", "quarterly", "semiannual", "yearly")),
       billing_time=st.sampled_from(("calendar", "anniversary")), timezone=st.sampled_from(ZONES),
       subscription_at=moments, open_start=st.none() | moments, instant=moments)
def test_cached_periods_equal_the_schedule(interval, billing_time, timezone, subscription_at, open_start, instant):
    subscription = EventSubscription(uuid.uuid4(), uuid.uuid4(), "sub", "active", uuid.uuid4(), interval,
                                     billing_time, micros(subscription_at), timezone, None)
    schedule = Schedule.of(interval, billing_time, subscription_at, timezone)
    expected = schedule.period_at(instant).start
    late = open_start is not None and expected < schedule.period_at(open_start).start
    for _ in range(2):  # computed, then from the cache
        assert buckets.locate(subscription, open_start, instant) == (expected, late)
