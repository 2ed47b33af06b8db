"""The billing-period scheduler: exactly-once closing under racing replicas, catch-up, trials, ending_at."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from invora.testing.events import read_events
from subscriptions.subscriptions.models import BillingPeriod
from subscriptions.subscriptions.scheduler import run_pass

from .conftest import START  # noqa: TID252


def body(plan_code: str, external_id: str, **fields) -> dict:
    return {"subscription": {"external_customer_id": "cus", "plan_code": plan_code, "external_id": external_id,
                             **fields}}


async def _closed(subs, org) -> list[tuple]:
    async with subs.database.sessionmaker() as session:
        return [tuple(row) for row in (await session.execute(
            select(BillingPeriod.subscription_id, BillingPeriod.period_start, BillingPeriod.period_end)
            .where(BillingPeriod.organization_id == org).order_by(BillingPeriod.period_start)))]


async def _outbox_count(subs, org) -> int:
    async with subs.database.sessionmaker() as session:
        return (await session.execute(text(
            "SELECT count(*) FROM outbox_events WHERE event_type = 'subscription.billing_period_ended' "
            "AND envelope->>'organization_id' = :org"), {"org": str(org)})).scalar_one()


async def test_two_racing_schedulers_close_each_period_once(api, plans, subs, org):
    weekly = await plans.plan(interval="weekly")
    for i in range(12):
        await api.ok("POST", "/api/v1/subscriptions", body(weekly["code"], f"s{i}"))
    later = START + timedelta(days=30)  # four or five weekly periods each, to catch up
    reports = await asyncio.gather(*(run_pass(subs.database.sessionmaker, later, batch_size=3) for _ in range(4)))
    closed = await _closed(subs, org)
    assert len(closed) == len(set(closed)) == sum(r.periods_closed for r in reports) == 12 * 5
    assert await _outbox_count(subs, org) == 12 * 5
    # a later pass (a restart) finds nothing to do
    again = await run_pass(subs.database.sessionmaker, later)
    assert again.periods_closed == 0 and len(await _closed(subs, org)) == 60
    # periods of one subscription tile its life
    first = sorted(p for p in closed if p[0] == closed[0][0])
    assert first[0][1] == START and all(a[2] == b[1] for a, b in zip(first, first[1:], strict=False))


async def test_a_crash_mid_pass_leaves_nothing_half_done(api, plans, subs, org, monkeypatch):
    from subscriptions.subscriptions import lifecycle

    monthly = await plans.plan()
    await api.ok("POST", "/api/v1/subscriptions", body(monthly["code"], "crashy"))
    original = lifecycle.publish_data
    calls = 0

    async def failing(session, subscription, event_type, data):
        nonlocal calls
        calls += 1
        await original(session, subscription, event_type, data)
        raise RuntimeError("crash after writing the event")

    monkeypatch.setattr(lifecycle, "publish_data", failing)
    await run_pass(subs.database.sessionmaker, datetime(2026, 4, 2, tzinfo=UTC))
    assert calls == 1 and await _closed(subs, org) == [] and await _outbox_count(subs, org) == 0
    monkeypatch.setattr(lifecycle, "publish_data", original)
    # the failed subscription is parked: not retried at once, but once its back-off has run out
    assert (await run_pass(subs.database.sessionmaker, datetime(2026, 4, 2, tzinfo=UTC))).periods_closed == 0
    report = await run_pass(subs.database.sessionmaker, datetime(2026, 4, 2, 0, 1, tzinfo=UTC))
    assert report.periods_closed == 1 and await _outbox_count(subs, org) == 1


async def test_trial_end_and_ending_at(api, plans, subs, org, invora_kafka):
    plan = await plans.plan(trial_period=5)
    await api.ok("POST", "/api/v1/subscriptions", body(plan["code"], "trial"))
    ending = START + timedelta(days=40)
    await api.ok("POST", "/api/v1/subscriptions", body(plan["code"], "ends", ending_at=ending.isoformat()))
    report = await run_pass(subs.database.sessionmaker, START + timedelta(days=6))
    assert report.trials_ended == 2
    trial = (await api.ok("GET", "/api/v1/subscriptions/trial"))["subscription"]
    assert trial["trial_ended_at"] == (START + timedelta(days=5)).isoformat().replace("+00:00", "Z")
    await run_pass(subs.database.sessionmaker, START + timedelta(days=45))
    ended = (await api.ok("GET", "/api/v1/subscriptions/ends"))["subscription"]
    assert ended["status"] == "terminated" and ended["terminated_at"].startswith("2026-04-24")
    events = await read_events(invora_kafka, "invora.subscription", lambda e: e.organization_id == org and (
        e.type == "subscription.billing_period_ended" and e.data["subscription"]["external_id"] == "ends"), count=2)
    periods = sorted((e.data["period_start"], e.data["period_end"], e.data["reason"]) for e in events)
    assert periods[0][2] == "period_end" and periods[0][1] == "2026-04-01T00:00:00Z"
    assert periods[1] == ("2026-04-01T00:00:00Z", "2026-04-24T10:00:00Z", "termination")
    first = next(e for e in events if e.data["reason"] == "period_end")
    assert first.data["in_trial_until"] is not None and first.data["next_period_end"] == "2026-04-24T10:00:00Z"


async def test_periods_in_customer_timezone(api, plans, subs, org):
    await api.customer("cus", timezone="America/New_York", currency="EUR")
    plan = await plans.plan()
    await api.ok("POST", "/api/v1/subscriptions", body(plan["code"], "ny"))
    await run_pass(subs.database.sessionmaker, datetime(2026, 5, 2, tzinfo=UTC))
    closed = await _closed(subs, org)
    # New York midnights: EDT from 8 March 2026 (UTC-4)
    assert [(p[1], p[2]) for p in closed] == [
        (START, datetime(2026, 4, 1, 4, tzinfo=UTC)), (datetime(2026, 4, 1, 4, tzinfo=UTC),
                                                       datetime(2026, 5, 1, 4, tzinfo=UTC))]
    async with subs.database.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(BillingPeriod))).scalar_one() >= 2
