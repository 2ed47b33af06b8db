"""Usage across billing periods: the snapshot in `subscription.billing_period_ended`, late events, and the
weighted sum of a recurring metric carried into the next period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from invora.events.contracts.subscriptions import BillingPeriodEnded
from invora.pricing import price_charge
from subscriptions.subscriptions.scheduler import run_pass
from subscriptions.usage.revisions import revise_usage
from subscriptions.usage_events import repository
from subscriptions.usage_events.ingest import micros

from .conftest import START  # noqa: TID252


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def metric(plans, aggregation: str, **fields) -> dict:
    body = {"name": aggregation, "code": f"{aggregation}_{uuid.uuid4().hex[:6]}", "aggregation_type": aggregation,
            "field_name": None if aggregation == "count_agg" else "value", **fields}
    return (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": body}))["billable_metric"]


async def published(subs, org, event_type: str) -> list[dict]:
    """The data of the organization's outbox events of one type, in order."""
    async with subs.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = :type "
            "AND envelope->>'organization_id' = :org ORDER BY position"),
            {"type": event_type, "org": str(org)})).scalars().all()
    return [row["data"] for row in rows]


async def snapshots(subs, org) -> list[dict]:
    return await published(subs, org, "subscription.billing_period_ended")


async def test_snapshot_late_events_and_recurring_weighted_sum(api, plans, subs, org, clock):
    calls = await metric(plans, "count_agg")
    storage = await metric(plans, "weighted_sum_agg", recurring=True)
    amounts = await metric(plans, "sum_agg")
    plan = await plans.plan(charges=[
        {"billable_metric_id": calls["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": storage["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": amounts["lago_id"], "charge_model": "percentage", "properties": {"rate": "10"}},
    ])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})
    first_end = datetime(2026, 4, 1, tzinfo=UTC)
    half = START + (first_end - START) / 2

    def ev(code, at, value=None):
        return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": code,
                "timestamp": iso(at), "properties": {} if value is None else {"value": value}}

    clock.set(half)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(calls["code"], START), ev(calls["code"], half), ev(storage["code"], START, 10),
        ev(storage["code"], half, 10), ev(amounts["code"], half, "100"), ev(amounts["code"], half, "50")]})
    clock.set(first_end + timedelta(hours=1))
    await run_pass(subs.database.sessionmaker, clock.now())
    [snapshot] = await snapshots(subs, org)
    usage = snapshot["usage"]
    typed = BillingPeriodEnded.model_validate(snapshot).usage  # the shared contract reads it back
    assert typed is not None and typed.amount_cents == usage["amount_cents"]
    assert [c.billable_metric.code for c in typed.charges_usage] == [calls["code"], storage["code"], amounts["code"]]
    assert usage["from_datetime"].startswith("2026-03-15T10:00") and usage["to_datetime"].startswith("2026-04-01")
    by_code = {c["billable_metric"]["code"]: c for c in usage["charges_usage"]}
    assert by_code[calls["code"]]["units"] == "2" and by_code[calls["code"]]["amount_cents"] == 200
    # 10 all along, 10 more for the second half: 15 over the partial period, weighed against the whole of
    # March as Lago does (charges_duration): 15 × 16 d 14 h / 31 d
    partial = Decimal((first_end - START).total_seconds())
    assert Decimal(by_code[storage["code"]]["units"]) == 15 * partial / Decimal(31 * 86_400)
    assert by_code[storage["code"]]["total_aggregated_units"] == "20"  # Σ event values
    assert by_code[amounts["code"]]["event_values"] == ["100", "50"]
    assert by_code[amounts["code"]]["amount_cents"] == 1500
    # a late event for the closed period is accepted, flagged, and does not change the open period
    late = (await api.ok("POST", "/api/v1/events", {"event": ev(calls["code"], half)}))["event"]
    assert late["late"] is True
    fresh = (await api.ok("POST", "/api/v1/events", {"event": ev(calls["code"], clock.now())}))["event"]
    assert fresh["late"] is False
    current = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                            params={"external_subscription_id": "sub_1"}))["customer_usage"]
    by_code = {c["billable_metric"]["code"]: c for c in current["charges_usage"]}
    assert current["from_datetime"] == iso(first_end)
    assert by_code[calls["code"]]["units"] == "1"
    # the recurring weighted sum carries the 20 held at the end of March into April
    assert Decimal(by_code[storage["code"]]["units"]) == 20
    assert by_code[amounts["code"]]["units"] == "0"
    past = await api.ok("GET", "/api/v1/customers/cus_1/past_usage", params={"external_subscription_id": "sub_1"})
    assert past["meta"]["total_count"] == 1
    [period] = past["usage_periods"]
    # shown as Lago does: the local end of day
    assert period["from_datetime"] == iso(START) and period["to_datetime"] == iso(first_end - timedelta(seconds=1))
    by_code = {c["billable_metric"]["code"]: c for c in period["charges_usage"]}
    assert by_code[calls["code"]]["units"] == "3"  # two on time, one late: past usage shows what the events say
    only = await api.ok("GET", "/api/v1/customers/cus_1/past_usage", params={
        "external_subscription_id": "sub_1", "billable_metric_code": calls["code"], "periods_count": 1})
    assert [c["billable_metric"]["code"] for c in only["usage_periods"][0]["charges_usage"]] == [calls["code"]]
    await api.error("GET", "/api/v1/customers/cus_1/past_usage", params={"external_subscription_id": "x"}, status=404)


async def revisions_published(subs, org) -> list[dict]:
    return await published(subs, org, "subscription.billing_period_usage_revised")


async def revised(subs, org, grace_seconds: float) -> int:
    """Revisions of this organization's periods one pass of `revise_usage` published (other tests' too run)."""
    before = len(await revisions_published(subs, org))
    await revise_usage(subs.database.sessionmaker, grace_seconds=grace_seconds)
    return len(await revisions_published(subs, org)) - before


async def closed_subscription(api, plans, subs, clock) -> tuple[dict, datetime]:
    """A subscription with two events in March, its period closed by the scheduler."""
    calls = await metric(plans, "count_agg")
    plan = await plans.plan(charges=[
        {"billable_metric_id": calls["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}}])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})
    first_end = datetime(2026, 4, 1, tzinfo=UTC)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        {"transaction_id": f"on-time-{i}", "external_subscription_id": "sub_1", "code": calls["code"],
         "timestamp": iso(START + timedelta(days=1))} for i in range(2)]})
    clock.set(first_end + timedelta(hours=1))
    await run_pass(subs.database.sessionmaker, clock.now())
    return calls, first_end


async def test_late_events_publish_one_revision_of_the_closed_periods_usage(api, plans, subs, org, clock):
    calls, first_end = await closed_subscription(api, plans, subs, clock)
    [ended] = await snapshots(subs, org)
    assert ended["usage"]["amount_cents"] == 200
    assert await revised(subs, org, 3600) == 0  # nothing late yet

    def late(tx: str) -> dict:
        return {"transaction_id": tx, "external_subscription_id": "sub_1", "code": calls["code"],
                "timestamp": iso(first_end - timedelta(days=2))}

    await api.ok("POST", "/api/v1/events/batch", {"events": [late("late-1"), late("late-2")]})
    await api.ok("POST", "/api/v1/events", {"event": late("late-3")})
    await api.ok("POST", "/api/v1/events", {"event": late("late-3")})  # a duplicate adds nothing
    assert await revised(subs, org, 3600) == 1  # three events, one revision
    [revision] = await revisions_published(subs, org)
    assert revision["lago_billing_period_id"] == ended["lago_billing_period_id"] and revision["revision"] == 1
    assert (revision["previous_events_count"], revision["events_count"]) == (2, 5)
    assert (revision["previous_usage_amount_cents"], revision["usage_amount_cents"]) == (200, 500)
    [charge] = revision["usage"]["charges_usage"]
    assert charge["units"] == "5" and revision["usage"]["from_datetime"].startswith("2026-03-15")
    assert await revised(subs, org, 3600) == 0  # published once

    await api.ok("POST", "/api/v1/events", {"event": late("late-4")})
    assert await revised(subs, org, 3600) == 1
    second = (await revisions_published(subs, org))[-1]
    assert (second["revision"], second["previous_events_count"], second["events_count"]) == (2, 5, 6)
    # lifetime usage counts the revised amount as billed for the closed period
    lifetime = (await api.ok("GET", "/api/v1/subscriptions/sub_1/lifetime_usage"))["lifetime_usage"]
    assert lifetime["invoiced_usage_amount_cents"] == 600


async def test_an_event_that_raced_the_close_is_caught_by_the_check_after_the_grace(api, plans, subs, org, clock,
                                                                                    monkeypatch):
    """Ingestion read the open period before the closer moved it and committed after the snapshot: the event
    is not late to it, so only the second look at the closed period, after the grace time, sees it."""
    calls, first_end = await closed_subscription(api, plans, subs, clock)
    read = repository.subscriptions

    async def read_before_the_close(session, organization_id, external_ids):
        active, terminated = await read(session, organization_id, external_ids)
        # the open period as it was before the close: March
        return {k: v._replace(current_period_start_micros=micros(START)) for k, v in active.items()}, terminated

    monkeypatch.setattr(repository, "subscriptions", read_before_the_close)
    answer = await api.ok("POST", "/api/v1/events", {"event": {
        "transaction_id": "racing", "external_subscription_id": "sub_1", "code": calls["code"],
        "timestamp": iso(first_end - timedelta(seconds=1))}})
    assert answer["event"]["late"] is False  # as the racing request saw it
    assert await revised(subs, org, 3600) == 0  # too early to look again
    assert await revisions_published(subs, org) == []
    assert await revised(subs, org, 0) == 1
    [revision] = await revisions_published(subs, org)
    assert (revision["previous_events_count"], revision["events_count"]) == (2, 3)
    assert await revised(subs, org, 0) == 0  # checked once


async def test_recurring_sum_and_unique_count_carry_into_the_next_period(api, plans, subs, org, clock):
    seats = await metric(plans, "sum_agg", recurring=True)
    users = await metric(plans, "unique_count_agg", recurring=True)
    plan = await plans.plan(charges=[
        {"billable_metric_id": seats["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": users["lago_id"], "charge_model": "standard", "properties": {"amount": "10"}}])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})
    first_end = datetime(2026, 4, 1, tzinfo=UTC)

    def ev(code, at, value, **properties):
        return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": code,
                "timestamp": iso(at), "properties": {"value": value, **properties}}

    async def units() -> tuple[str, str]:
        usage = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                              params={"external_subscription_id": "sub_1"}))["customer_usage"]
        by_code = {c["billable_metric"]["code"]: c["units"] for c in usage["charges_usage"]}
        return by_code[seats["code"]], by_code[users["code"]]

    march = START + timedelta(days=1)
    clock.set(march + timedelta(hours=2))
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(seats["code"], march, 2), ev(seats["code"], march, 1),
        ev(users["code"], march, "ann"), ev(users["code"], march, "bo"), ev(users["code"], march, "cy"),
        ev(users["code"], march + timedelta(hours=1), "cy", operation_type="remove")]})
    assert await units() == ("3", "2")
    clock.set(first_end + timedelta(hours=1))
    await run_pass(subs.database.sessionmaker, clock.now())
    assert await units() == ("3", "2")  # April, before any April event: the balance and the users carried in
    april = first_end + timedelta(days=2)
    clock.set(april)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(seats["code"], april, -1), ev(users["code"], april, "ann", operation_type="remove"),
        ev(users["code"], april, "dee"), ev(users["code"], april, "bo")]})  # bo again: still one
    assert await units() == ("2", "2")  # bo and dee
    projected = (await api.ok("GET", "/api/v1/customers/cus_1/projected_usage", params={
        "external_subscription_id": "sub_1"}))["customer_projected_usage"]
    recurring_seats = next(c for c in projected["charges_usage"] if c["billable_metric"]["code"] == seats["code"])
    assert recurring_seats["projected_units"] == "2"  # a balance is not extrapolated
    [march_usage] = (await api.ok("GET", "/api/v1/customers/cus_1/past_usage", params={
        "external_subscription_id": "sub_1"}))["usage_periods"]
    by_code = {c["billable_metric"]["code"]: c["units"] for c in march_usage["charges_usage"]}
    assert (by_code[seats["code"]], by_code[users["code"]]) == ("3", "2")


async def test_snapshot_keeps_negative_units_so_pricing_them_again_floors_like_lago(api, plans, subs, org, clock):
    """A sum refunded below zero reads 0 units, 0 amount in current usage (lago-api fees/charge_service.rb
    init_fee); the snapshot keeps the aggregated −20 so that invoicing, pricing it again, floors it the
    same way instead of billing the first tier's flat fee for 0 units."""
    amounts = await metric(plans, "sum_agg")
    properties = {"graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "2"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}
    plan = await plans.plan(charges=[{"billable_metric_id": amounts["lago_id"], "charge_model": "graduated",
                                      "properties": properties}])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": amounts["code"],
         "timestamp": iso(START), "properties": {"value": value}} for value in ("10", "-30")]})
    current = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                            params={"external_subscription_id": "sub_1"}))["customer_usage"]["charges_usage"][0]
    assert (current["units"], current["amount_cents"]) == ("0", 0)
    clock.set(datetime(2026, 4, 1, 1, tzinfo=UTC))
    await run_pass(subs.database.sessionmaker, clock.now())
    [snapshot] = await snapshots(subs, org)
    charge = snapshot["usage"]["charges_usage"][0]
    assert (charge["units"], charge["amount_cents"]) == ("-20", 0)
    again = price_charge("graduated", properties, "EUR", units=Decimal(charge["units"]))
    assert again.amount_cents == 0 and price_charge("graduated", properties, "EUR", units=0).amount_cents == 200
