"""Subscriptions: creation against the real catalog, pending starts, plan changes, updates, termination."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from subscriptions.subscriptions.models import CachedPlanVersion

from .conftest import START  # noqa: TID252

CONSUMERS = True  # the catalog's plan events reach this module's service


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def sub_body(plan_code: str, external_id: str = "sub_1", customer: str = "cus_1", **fields) -> dict:
    return {"subscription": {"external_customer_id": customer, "plan_code": plan_code, "external_id": external_id,
                             **fields}}


async def test_create_pins_version_and_opens_period(api, plans, subs, org, wait_for_event):
    await api.customer("cus_1", timezone="Europe/Paris", currency=None)
    plan = await plans.plan(amount_cents=5_000, trial_period=14)
    created = (await api.ok("POST", "/api/v1/subscriptions", sub_body(plan["code"], name="Main")))["subscription"]
    assert created["status"] == "active" and created["plan_code"] == plan["code"]
    assert created["lago_plan_version_id"] == plan["lago_plan_version_id"]
    assert created["started_at"] == iso(START) and created["billing_time"] == "calendar"
    # calendar month in Paris: from the start to 1 April 00:00 CEST
    assert created["current_billing_period_started_at"] == iso(START)
    assert created["current_billing_period_ending_at"] == "2026-03-31T21:59:59Z"
    assert created["trial_ends_at"] == iso(START + timedelta(days=14)) and created["trial_ended_at"] is None
    customer = (await api.ok("GET", "/api/v1/customers/cus_1"))["customer"]
    assert customer["currency"] == "EUR"  # taken from the plan
    again = (await api.ok("POST", "/api/v1/subscriptions", sub_body(plan["code"])))["subscription"]
    assert again["lago_id"] == created["lago_id"]
    async with subs.database.sessionmaker() as session:
        cached = (await session.execute(select(CachedPlanVersion).where(
            CachedPlanVersion.organization_id == org))).scalars().all()
    assert [str(c.plan_version_id) for c in cached] == [plan["lago_plan_version_id"]]
    event = await wait_for_event("invora.subscription", lambda e: e.organization_id == org
                                 and e.type == "subscription.started")
    assert event.data["subscription"]["lago_plan_version_id"] == plan["lago_plan_version_id"]
    # Lago's subscription webhooks carry the customer and the plan (SubscriptionWithCustomerObject)
    assert event.data["customer"]["external_id"] == "cus_1" and event.data["customer"]["lago_id"] == customer["lago_id"]
    assert event.data["customer"]["applicable_timezone"] == "Europe/Paris"
    sent_plan = event.data["plan"]
    assert (sent_plan["code"], sent_plan["amount_cents"], sent_plan["lago_plan_version_id"]) == (
        plan["code"], 5_000, plan["lago_plan_version_id"])
    assert sent_plan["lago_id"] == plan["lago_id"] and sent_plan["name"]


async def test_unknown_customer_is_created_and_errors(api, plans):
    plan = await plans.plan()
    created = (await api.ok("POST", "/api/v1/subscriptions", sub_body(plan["code"], customer="fresh")))["subscription"]
    assert created["external_customer_id"] == "fresh"
    assert (await api.ok("GET", "/api/v1/customers/fresh"))["customer"]["currency"] == "EUR"
    assert (await api.error("POST", "/api/v1/subscriptions", sub_body("nope"), status=404))["code"] == "plan_not_found"
    body = await api.error("POST", "/api/v1/subscriptions", sub_body(plan["code"], external_id="s2",
                                                                      ending_at=iso(START - timedelta(days=1))))
    assert body["error_details"] == {"ending_at": ["invalid_date"]}
    body = await api.error("POST", "/api/v1/subscriptions", sub_body(plan["code"], billing_time="sometimes"))
    assert "billing_time" in body["error_details"]
    body = await api.error("POST", "/api/v1/subscriptions", sub_body(plan["code"], external_id="s3", plan_overrides={
        "charges": [{"id": str(uuid.uuid4()), "properties": {"amount": "1"}}]}))
    assert body["error_details"] == {"plan_overrides.charges": ["charge_not_found"]}
    await api.error("POST", "/api/v1/subscriptions", sub_body(plan["code"], subscription_at="yesterday"))
    await api.error("POST", "/api/v1/subscriptions", {"subscription": {"plan_code": plan["code"]}})
    usd = await plans.plan(currency="USD")
    body = await api.error("POST", "/api/v1/subscriptions", sub_body(usd["code"], external_id="s4", customer="fresh"))
    assert body["error_details"] == {"currency": ["currencies_does_not_match"]}
    other_customer = await api.error("POST", "/api/v1/subscriptions", sub_body(plan["code"], customer="someone"))
    assert other_customer["error_details"] == {"external_id": ["value_already_exist"]}


async def test_pending_start_and_activation_by_scheduler(api, plans, subs, clock):
    from subscriptions.subscriptions.scheduler import run_pass

    plan = await plans.plan(interval="weekly")
    start = START + timedelta(days=3)
    pending = (await api.ok("POST", "/api/v1/subscriptions", sub_body(
        plan["code"], subscription_at=iso(start), billing_time="anniversary")))["subscription"]
    assert pending["status"] == "pending" and pending["started_at"] is None
    await run_pass(subs.database.sessionmaker, START + timedelta(days=1))
    assert (await api.ok("GET", "/api/v1/subscriptions/sub_1"))["subscription"]["status"] == "pending"
    await run_pass(subs.database.sessionmaker, start + timedelta(hours=1))
    active = (await api.ok("GET", "/api/v1/subscriptions/sub_1"))["subscription"]
    assert active["status"] == "active" and active["started_at"] == iso(start)
    assert active["current_billing_period_ending_at"] == iso(datetime(2026, 3, 24, 23, 59, 59, tzinfo=UTC))


async def test_upgrade_is_immediate_and_closes_the_old_period(api, plans, subs, org, clock, wait_for_event):
    cheap = await plans.plan(amount_cents=1_000)
    rich = await plans.plan(amount_cents=30_000, interval="quarterly")  # 10,000/month-equivalent ≥ 1,000
    old = (await api.ok("POST", "/api/v1/subscriptions", sub_body(cheap["code"])))["subscription"]
    clock.advance(days=5)
    new = (await api.ok("POST", "/api/v1/subscriptions", sub_body(rich["code"])))["subscription"]
    assert new["lago_id"] != old["lago_id"] and new["status"] == "active"
    assert new["previous_plan_code"] == cheap["code"] and new["started_at"] == iso(START + timedelta(days=5))
    terminated = (await api.ok("GET", "/api/v1/subscriptions/sub_1?status=terminated"))["subscription"]
    assert terminated["lago_id"] == old["lago_id"] and terminated["next_plan_code"] == rich["code"]
    closed = await wait_for_event("invora.subscription", lambda e: e.organization_id == org
                                  and e.type == "subscription.billing_period_ended")
    assert closed.data["reason"] == "plan_change"
    assert closed.data["period_start"] == iso(START) and closed.data["period_end"] == iso(START + timedelta(days=5))
    change = await wait_for_event("invora.subscription", lambda e: e.organization_id == org
                                  and e.type == "subscription.plan_changed")
    assert change.data["direction"] == "upgrade"
    # keyed by the old subscription (after its last period's close); what invoicing prorates and credits with
    assert change.aggregate_id == old["lago_id"]
    assert change.data["previous_period_end"] == iso(datetime(2026, 4, 1, tzinfo=UTC))
    assert (change.data["next_full_period_start"], change.data["next_full_period_end"]) == (
        iso(datetime(2026, 1, 1, tzinfo=UTC)), iso(datetime(2026, 4, 1, tzinfo=UTC)))
    started = await wait_for_event("invora.subscription", lambda e: e.organization_id == org
                                   and e.type == "subscription.started" and e.aggregate_id == new["lago_id"])
    assert started.data["reason"] == "upgrade"
    assert change.data["previous_subscription"]["lago_plan_version_id"] == cheap["lago_plan_version_id"]
    assert change.data["next_subscription"]["lago_plan_version_id"] == rich["lago_plan_version_id"]
    listed = await api.ok("GET", "/api/v1/subscriptions?status[]=terminated&status[]=active")
    assert listed["meta"]["total_count"] == 2


async def test_downgrade_waits_for_the_period_end(api, plans, subs, org, clock, wait_for_event):
    from subscriptions.subscriptions.scheduler import run_pass

    rich = await plans.plan(amount_cents=9_000)
    cheap = await plans.plan(amount_cents=1_000)
    cheaper = await plans.plan(amount_cents=500)
    old = (await api.ok("POST", "/api/v1/subscriptions", sub_body(rich["code"])))["subscription"]
    current = (await api.ok("POST", "/api/v1/subscriptions", sub_body(cheap["code"])))["subscription"]
    assert current["lago_id"] == old["lago_id"] and current["next_plan_code"] == cheap["code"]
    assert current["downgrade_plan_date"] == "2026-04-01"
    # a second downgrade replaces the first one's pending subscription
    current = (await api.ok("POST", "/api/v1/subscriptions", sub_body(cheaper["code"])))["subscription"]
    assert current["next_plan_code"] == cheaper["code"]
    pendings = await api.ok("GET", "/api/v1/subscriptions?status[]=pending")
    assert [s["plan_code"] for s in pendings["subscriptions"]] == [cheaper["code"]]
    canceled = await api.ok("GET", "/api/v1/subscriptions?status[]=canceled")
    assert [s["plan_code"] for s in canceled["subscriptions"]] == [cheap["code"]]
    await run_pass(subs.database.sessionmaker, datetime(2026, 4, 1, 0, 5, tzinfo=UTC))
    now_active = (await api.ok("GET", "/api/v1/subscriptions/sub_1"))["subscription"]
    assert now_active["plan_code"] == cheaper["code"] and now_active["started_at"] == "2026-04-01T00:00:00Z"
    assert now_active["current_billing_period_ending_at"] == "2026-04-30T23:59:59Z"
    ended = await wait_for_event("invora.subscription", lambda e: e.organization_id == org
                                 and e.type == "subscription.billing_period_ended")
    assert ended.data["subscription"]["lago_id"] == old["lago_id"] and ended.data["reason"] == "period_end"
    assert ended.data["period_end"] == "2026-04-01T00:00:00Z"
    # the old plan ends here: no next period of it to bill in advance; the new plan's start bills its own
    assert ended.data["next_period_start"] is None and ended.data["next_period_end"] is None
    started = await wait_for_event("invora.subscription", lambda e: e.organization_id == org
                                   and e.type == "subscription.started" and e.aggregate_id == now_active["lago_id"])
    assert started.data["reason"] == "downgrade"


async def test_update_and_terminate(api, plans, subs, org, clock, wait_for_event):
    plan = await plans.plan(amount_cents=2_000)
    await api.ok("POST", "/api/v1/subscriptions", sub_body(plan["code"]))
    updated = (await api.ok("PUT", "/api/v1/subscriptions/sub_1", {"subscription": {
        "name": "Renamed", "ending_at": iso(START + timedelta(days=60)),
        "plan_overrides": {"amount_cents": 1_500, "trial_period": 3}}}))["subscription"]
    assert updated["name"] == "Renamed" and updated["plan_amount_cents"] == 1_500
    assert updated["plan_overrides"] == {"amount_cents": 1_500, "trial_period": 3}
    await api.error("PUT", "/api/v1/subscriptions/sub_1", {"subscription": {"ending_at": iso(START)}})
    await api.error("PUT", "/api/v1/subscriptions/missing", {"subscription": {"name": "x"}}, status=404)
    await api.error("PUT", "/api/v1/subscriptions/sub_1", {"subscription": {
        "plan_overrides": {"amount_currency": "USD"}}})
    clock.advance(days=2)
    ended = (await api.ok("DELETE", "/api/v1/subscriptions/sub_1?on_termination_invoice=skip"))["subscription"]
    assert ended["status"] == "terminated" and ended["terminated_at"] == iso(START + timedelta(days=2))
    assert ended["on_termination_invoice"] == "skip"
    await api.error("DELETE", "/api/v1/subscriptions/sub_1", status=404)
    await api.error("DELETE", "/api/v1/subscriptions/sub_1?on_termination_invoice=maybe")
    closed = await wait_for_event("invora.subscription", lambda e: e.organization_id == org
                                  and e.type == "subscription.billing_period_ended")
    assert closed.data["reason"] == "termination" and closed.data["plan_overrides"]["amount_cents"] == 1_500
    assert closed.data["period_end"] == iso(START + timedelta(days=2))
    assert closed.data["full_period_start"] == "2026-03-01T00:00:00Z"


async def test_cancel_pending_and_customer_deletion_terminates(api, plans, clock):
    plan = await plans.plan()
    await api.ok("POST", "/api/v1/subscriptions", sub_body(plan["code"], external_id="later",
                                                           subscription_at=iso(START + timedelta(days=9))))
    await api.ok("POST", "/api/v1/subscriptions", sub_body(plan["code"], external_id="now"))
    canceled = (await api.ok("DELETE", "/api/v1/subscriptions/later?status=pending"))["subscription"]
    assert canceled["status"] == "canceled" and canceled["canceled_at"] == iso(START)
    await api.ok("DELETE", "/api/v1/customers/cus_1")
    ended = (await api.ok("GET", "/api/v1/subscriptions/now"))["subscription"]
    assert ended["status"] == "terminated"


async def test_list_filters_roles_and_isolation(api, plans, make_api, org):
    a = await plans.plan()
    b = await plans.plan()
    await api.ok("POST", "/api/v1/subscriptions", sub_body(a["code"], external_id="x1", customer="c1"))
    await api.ok("POST", "/api/v1/subscriptions", sub_body(b["code"], external_id="x2", customer="c2"))

    async def ids(query: str, client=api) -> list[str]:
        return sorted(s["external_id"] for s in (await client.ok("GET", f"/api/v1/subscriptions?{query}"))[
            "subscriptions"])

    assert await ids("") == ["x1", "x2"]
    assert await ids("external_customer_id=c2") == ["x2"]
    assert await ids(f"plan_code={a['code']}") == ["x1"]
    assert await ids("status[]=terminated") == []
    await api.error("GET", "/api/v1/subscriptions?status[]=zombie")
    service = make_api(org, roles=["service"])
    assert await ids("", service) == ["x1", "x2"]
    await service.error("POST", "/api/v1/subscriptions", sub_body(a["code"]), status=403)
    stranger = make_api(uuid.uuid4())
    assert await ids("", stranger) == []
    await stranger.error("GET", "/api/v1/subscriptions/x1", status=404)
    await stranger.error("DELETE", "/api/v1/subscriptions/x1", status=404)
    # the stranger's catalog has no such plan either
    await stranger.error("POST", "/api/v1/subscriptions", sub_body(a["code"]), status=404)


@pytest.mark.parametrize("body", [
    {"subscription": {"external_customer_id": "c", "plan_code": "p", "external_id": "\x00"}},
    {"subscription": {"external_customer_id": "c", "plan_code": "p", "external_id": "e",
                      "plan_overrides": {"amount_cents": -1}}},
    {"subscription": {"external_customer_id": "c", "plan_code": "p", "external_id": "e",
                      "plan_overrides": {"amount_currency": "XYZ"}}},
    {"subscription": {"external_customer_id": "c", "plan_code": "p", "external_id": "e",
                      "subscription_at": "99999-01-01T00:00:00Z"}},
    {"subscription": {"external_customer_id": "c", "plan_code": "p", "external_id": "e",
                      "plan_overrides": {"trial_period": "NaN"}}},
])
async def test_bad_input_is_422(api, body):
    await api.error("POST", "/api/v1/subscriptions", body)


async def test_cascade_moves_subscriptions_to_the_new_version_keeping_overrides(api, plans, subs, org):
    import asyncio

    plan = await plans.plan(amount_cents=1_000)
    await api.ok("POST", "/api/v1/subscriptions", sub_body(plan["code"], external_id="plain", customer="c1"))
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "c1", "plan_code": plan["code"], "external_id": "custom",
        "plan_overrides": {"amount_cents": 700}}})
    updated = (await plans.api.ok("PUT", f"/api/v1/plans/{plan['code']}", {"plan": {
        "amount_cents": 1_200, "cascade_updates": True}}))["plan"]
    new_version = updated["lago_plan_version_id"]
    assert new_version != plan["lago_plan_version_id"]
    for _ in range(150):  # the consumer group joins, then the event arrives
        plain = (await api.ok("GET", "/api/v1/subscriptions/plain"))["subscription"]
        if plain["lago_plan_version_id"] == new_version:
            break
        await asyncio.sleep(0.1)
    assert plain["lago_plan_version_id"] == new_version and plain["plan_amount_cents"] == 1_200
    custom = (await api.ok("GET", "/api/v1/subscriptions/custom"))["subscription"]
    assert custom["lago_plan_version_id"] == new_version and custom["plan_amount_cents"] == 700
