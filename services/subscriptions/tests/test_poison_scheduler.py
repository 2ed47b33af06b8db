"""Poison items in the scheduler's passes: one subscription (or closed period) that always fails is
parked with its error and skipped until its back-off runs out; every other organization's periods
close in the same pass (issue 11: one organization's bad override stopped billing for all).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import text

from subscriptions.subscriptions.scheduler import run_pass
from subscriptions.usage.revisions import revise_usage

from .conftest import START  # noqa: TID252


async def _metric(plans) -> dict:
    body = {"name": "tokens", "code": f"tokens_{uuid.uuid4().hex[:6]}", "aggregation_type": "sum_agg",
            "field_name": "tokens"}
    return (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": body}))["billable_metric"]


async def _parked(subs, loop: str) -> dict[str, tuple[str, int]]:
    async with subs.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT item_key, error, attempts FROM parked_items WHERE loop = :loop"), {"loop": loop})).all()
    return {key: (error, attempts) for key, error, attempts in rows}


async def _metric_value(subs, loop: str) -> float:
    body = (await subs.client(uuid.uuid4()).get("/metrics")).text
    line = next(line for line in body.splitlines()
                if line.startswith("parked_items{") and f'loop="{loop}"' in line and 'service="subscriptions"' in line)
    return float(line.rsplit(" ", 1)[1])


async def _poison(subs, external_id: str, org: uuid.UUID, overrides: dict) -> uuid.UUID:
    """Stored data the pricing engine refuses, as written before overrides were checked at write time."""
    async with subs.database.sessionmaker() as session:
        sid = (await session.execute(text(
            "UPDATE subscriptions SET plan_overrides = CAST(:o AS jsonb) WHERE external_id = :e "
            "AND organization_id = :org RETURNING id"), {"o": json.dumps(overrides), "e": external_id, "org": org})
        ).scalar_one()
        await session.commit()
    return sid


async def test_a_subscription_that_always_fails_is_parked_and_the_others_close(api, plans, subs, org, make_api):
    metric = await _metric(plans)
    plan = await plans.plan(charges=[{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                                      "code": "tokens", "properties": {"amount": "1"}}])
    await api.customer("cus")
    ids = []
    for external_id in ("a_bad", "b_good", "c_good"):
        created = await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus", "plan_code": plan["code"], "external_id": external_id}})
        ids.append(created["subscription"]["lago_id"])
    bad = await _poison(subs, "a_bad", org, {"charges": [{"code": "tokens", "properties": {"amount": "abc"}}]})
    # batch_size=1: a parked row at the head of every batch must not end the pass either
    after_period = START + timedelta(days=20)
    report = await run_pass(subs.database.sessionmaker, after_period, batch_size=1)
    assert report.periods_closed == 2
    async with subs.database.sessionmaker() as session:
        closed = set((await session.execute(text(
            "SELECT s.external_id FROM billing_periods p JOIN subscriptions s ON s.id = p.subscription_id "
            "WHERE s.organization_id = :org"), {"org": org})).scalars())
    assert closed == {"b_good", "c_good"}
    parked = await _parked(subs, "scheduler")
    assert str(bad) in parked
    error, attempts = parked[str(bad)]
    assert "InvalidProperties" in error and "invalid_amount" in error and attempts == 1
    assert await _metric_value(subs, "scheduler") >= 1
    # a pass within the back-off skips it; the first one after retries it (and it fails again: 2, back-off doubles)
    await run_pass(subs.database.sessionmaker, after_period + timedelta(seconds=10))
    assert (await _parked(subs, "scheduler"))[str(bad)][1] == 1
    await run_pass(subs.database.sessionmaker, after_period + timedelta(seconds=31))
    assert (await _parked(subs, "scheduler"))[str(bad)][1] == 2
    # repaired, it closes at its next retry and leaves the parking lot
    await _poison(subs, "a_bad", org, {})
    report = await run_pass(subs.database.sessionmaker, after_period + timedelta(seconds=31 + 61))
    assert report.periods_closed == 1 and str(bad) not in await _parked(subs, "scheduler")


async def test_a_period_whose_revision_always_fails_is_parked(api, plans, subs, org, clock):
    metric = await _metric(plans)
    plan = await plans.plan(charges=[{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                                      "code": "tokens", "properties": {"amount": "1"}}])
    await api.customer("cus_r")
    for external_id in ("r_bad", "r_good"):
        await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_r", "plan_code": plan["code"], "external_id": external_id}})
    await run_pass(subs.database.sessionmaker, START + timedelta(days=20))
    clock.set(START + timedelta(days=20))
    for external_id in ("r_bad", "r_good"):  # late events: both closed periods need a revision
        await api.ok("POST", "/api/v1/events", {"event": {
            "transaction_id": uuid.uuid4().hex, "external_subscription_id": external_id, "code": metric["code"],
            "timestamp": (START + timedelta(days=1)).isoformat(), "properties": {"tokens": "5"}}})
    await _poison(subs, "r_bad", org, {"charges": [{"code": "tokens", "properties": {"amount": "abc"}}]})
    published = await revise_usage(subs.database.sessionmaker, grace_seconds=0)
    assert published >= 1
    async with subs.database.sessionmaker() as session:
        rows = dict((await session.execute(text(
            "SELECT s.external_id, p.usage_revisions FROM billing_periods p "
            "JOIN subscriptions s ON s.id = p.subscription_id WHERE s.organization_id = :org"), {"org": org})).all())
        bad_period = (await session.execute(text(
            "SELECT p.id FROM billing_periods p JOIN subscriptions s ON s.id = p.subscription_id "
            "WHERE s.external_id = 'r_bad' AND s.organization_id = :org"), {"org": org})).scalar_one()
    assert rows == {"r_good": 1, "r_bad": 0}
    error, attempts = (await _parked(subs, "usage-revisions"))[str(bad_period)]
    assert "invalid_amount" in error and attempts == 1
    assert await _metric_value(subs, "usage-revisions") >= 1


async def test_an_alert_whose_evaluation_always_fails_is_parked(api, plans, subs, org, clock):
    from subscriptions.usage.alerts import evaluate_alerts

    metric = await _metric(plans)
    plan = await plans.plan(charges=[{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                                      "code": "tokens", "properties": {"amount": "1"}}])
    await api.customer("cus_a")
    for external_id in ("a_bad", "a_good"):
        await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_a", "plan_code": plan["code"], "external_id": external_id}})
        await api.ok("POST", f"/api/v1/subscriptions/{external_id}/alerts", {"alert": {
            "alert_type": "current_usage_amount", "code": "money", "thresholds": [{"value": 100}]}})
        await api.ok("POST", "/api/v1/events", {"event": {
            "transaction_id": uuid.uuid4().hex, "external_subscription_id": external_id, "code": metric["code"],
            "properties": {"tokens": "5"}}})
    await _poison(subs, "a_bad", org, {"charges": [{"code": "tokens", "properties": {"amount": "abc"}}]})
    assert await evaluate_alerts(subs.database.sessionmaker, clock.now()) == 1  # the healthy one crossed 100
    async with subs.database.sessionmaker() as session:
        bad_alert = (await session.execute(text(
            "SELECT id FROM usage_alerts WHERE organization_id = :org AND external_subscription_id = 'a_bad'"),
            {"org": org})).scalar_one()
    error, attempts = (await _parked(subs, "usage-alerts"))[str(bad_alert)]
    assert "invalid_amount" in error and attempts == 1
    assert await _metric_value(subs, "usage-alerts") >= 1
    # within its back-off it is skipped (not failed again)
    await evaluate_alerts(subs.database.sessionmaker, clock.now())
    assert (await _parked(subs, "usage-alerts"))[str(bad_alert)][1] == 1
