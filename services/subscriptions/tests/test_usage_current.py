"""Current usage (Lago's `customer_usage`): units per charge and filter from the rollups, priced and taxed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import text

from invora.db.migrate import downgrade, upgrade

from .conftest import START  # noqa: TID252


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def metric(plans, aggregation: str, **fields) -> dict:
    body = {"name": aggregation, "code": f"{aggregation}_{uuid.uuid4().hex[:6]}", "aggregation_type": aggregation,
            "field_name": None if aggregation == "count_agg" else "value", **fields}
    return (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": body}))["billable_metric"]


async def test_current_usage_priced_per_filter_with_taxes(api, plans, make_api, org, clock):
    calls = await metric(plans, "count_agg")
    storage = await metric(plans, "sum_agg", filters=[{"key": "region", "values": ["eu", "us"]}],
                           rounding_function="ceil", rounding_precision=0)
    seats = await metric(plans, "unique_count_agg")
    tax = (await plans.api.ok("POST", "/api/v1/taxes", {"tax": {"name": "VAT", "code": f"vat_{uuid.uuid4().hex[:6]}",
                                                               "rate": "20"}}))["tax"]
    plan = await plans.plan(tax_codes=[tax["code"]], charges=[
        {"billable_metric_id": calls["lago_id"], "charge_model": "standard", "properties": {"amount": "0.5"}},
        {"billable_metric_id": storage["lago_id"], "charge_model": "standard", "properties": {"amount": "1"},
         "filters": [{"invoice_display_name": "EU", "properties": {"amount": "2"}, "values": {"region": ["eu"]}}]},
        {"billable_metric_id": seats["lago_id"], "charge_model": "standard", "properties": {"amount": "10"}},
    ])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})

    def ev(code, value=None, **properties):
        props = {**properties} if value is None else {"value": value, **properties}
        return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": code,
                "timestamp": iso(START + timedelta(minutes=5)), "properties": props}

    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(calls["code"]), ev(calls["code"]), ev(calls["code"]),
        ev(storage["code"], "1.5", region="eu"), ev(storage["code"], "2", region="us"), ev(storage["code"], "0.2"),
        ev(seats["code"], "alice"), ev(seats["code"], "bob"), ev(seats["code"], "alice"),
        ev(seats["code"], "bob", operation_type="remove"),
    ]})
    usage = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                          params={"external_subscription_id": "sub_1"}))["customer_usage"]
    assert usage["from_datetime"] == iso(START) and usage["to_datetime"] == "2026-03-31T23:59:59Z"
    by_code = {c["billable_metric"]["code"]: c for c in usage["charges_usage"]}
    assert by_code[calls["code"]]["units"] == "3" and by_code[calls["code"]]["amount_cents"] == 150
    assert by_code[seats["code"]]["units"] == "1" and by_code[seats["code"]]["amount_cents"] == 1000
    assert by_code[seats["code"]]["events_count"] == 1  # Lago: a unique count's count is the unique count
    stored = by_code[storage["code"]]
    eu, rest = stored["filters"]
    assert eu["values"] == {"region": ["eu"]} and eu["units"] == "2" and eu["amount_cents"] == 400  # ceil(1.5) × 2
    assert rest["values"] is None and rest["units"] == "3" and rest["amount_cents"] == 300  # ceil(2.2) × 1
    assert stored["units"] == "5" and stored["amount_cents"] == 700 and stored["events_count"] == 3
    assert usage["amount_cents"] == 1850 and usage["taxes_amount_cents"] == 370
    assert usage["total_amount_cents"] == 2220 and usage["currency"] == "EUR"
    untaxed = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                            params={"external_subscription_id": "sub_1", "apply_taxes": "false"}))["customer_usage"]
    assert untaxed["taxes_amount_cents"] == 0 and untaxed["total_amount_cents"] == 1850
    # errors and isolation
    await api.error("GET", "/api/v1/customers/cus_1/current_usage", params={"external_subscription_id": "nope"},
                    status=404)
    await api.error("GET", "/api/v1/customers/other/current_usage", params={"external_subscription_id": "sub_1"},
                    status=404)
    await api.error("GET", "/api/v1/customers/cus_1/current_usage")
    await make_api(uuid.uuid4()).error("GET", "/api/v1/customers/cus_1/current_usage",
                                       params={"external_subscription_id": "sub_1"}, status=404)
    tenant = make_api(org, roles=("tenant",), customer_id=uuid.uuid4())
    await tenant.error("GET", "/api/v1/customers/cus_1/current_usage", params={"external_subscription_id": "sub_1"},
                       status=403)


async def test_projected_usage_follows_lagos_day_ratio(api, plans, clock):
    calls = await metric(plans, "count_agg")
    peak = await metric(plans, "max_agg")
    plan = await plans.plan(charges=[
        {"billable_metric_id": calls["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": peak["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}}])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_p"}})
    # the period runs from START (15 March 10:00 UTC) to 1 April: 17 started days; at a quarter of it
    # (19 March 13:30) 5 days have started, so Lago's ratio is 5/17 (Fees::ProjectionService)
    period_end = START.replace(month=4, day=1, hour=0)
    clock.set(START + (period_end - START) / 4)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        {"transaction_id": f"p{i}", "external_subscription_id": "sub_p", "code": calls["code"]} for i in range(10)
    ] + [{"transaction_id": "m", "external_subscription_id": "sub_p", "code": peak["code"],
          "properties": {"value": 7}}]})
    body = (await api.ok("GET", "/api/v1/customers/cus_1/projected_usage",
                         params={"external_subscription_id": "sub_p"}))["customer_projected_usage"]
    by_code = {c["billable_metric"]["code"]: c for c in body["charges_usage"]}
    assert by_code[calls["code"]]["units"] == "10" and by_code[calls["code"]]["projected_units"] == "34"
    assert by_code[calls["code"]]["projected_amount_cents"] == 3400
    # a max that is not recurring is projected too: 7 × 17 / 5
    assert by_code[peak["code"]]["projected_units"] == "23.8"
    assert by_code[peak["code"]]["projected_amount_cents"] == 2380
    assert body["amount_cents"] == 1700 and body["projected_amount_cents"] == 5780


async def test_unique_count_dynamic_and_percentage_per_filter_from_rollups(api, plans, subs, org, clock):
    """Unique count follows each value's latest operation whatever the order events arrive in, per filter;
    dynamic and percentage charges price each filter's own events."""
    seats = await metric(plans, "unique_count_agg", filters=[{"key": "team", "values": ["red", "blue"]}])
    calls = await metric(plans, "sum_agg", filters=[{"key": "team", "values": ["red", "blue"]}])
    payments = await metric(plans, "sum_agg", filters=[{"key": "team", "values": ["red", "blue"]}])
    red = {"team": ["red"]}
    plan = await plans.plan(charges=[
        {"billable_metric_id": seats["lago_id"], "charge_model": "standard", "properties": {"amount": "10"},
         "filters": [{"properties": {"amount": "20"}, "values": red}]},
        {"billable_metric_id": calls["lago_id"], "charge_model": "dynamic", "properties": {},
         "filters": [{"properties": {}, "values": red}]},
        {"billable_metric_id": payments["lago_id"], "charge_model": "percentage",
         "properties": {"rate": "10", "fixed_amount": "1"},
         "filters": [{"properties": {"rate": "50", "fixed_amount": "0"}, "values": red}]},
    ])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})

    def ev(code, minutes, value=None, **properties):
        props = {**properties} if value is None else {"value": value, **properties}
        return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": code,
                "timestamp": iso(START + timedelta(minutes=minutes)), "properties": props}

    async def units() -> dict:
        usage = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                              params={"external_subscription_id": "sub_1"}))["customer_usage"]
        found = {}
        for charge in usage["charges_usage"]:
            red_filter, default = charge["filters"]
            found[charge["billable_metric"]["code"]] = (red_filter["units"], red_filter["amount_cents"],
                                                        default["units"], default["amount_cents"])
        return found

    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(seats["code"], 10, "ann", team="red"), ev(seats["code"], 10, "bo", team="red"),
        ev(seats["code"], 10, "ann", team="blue"),  # another filter group: counted there too
        ev(seats["code"], 10, "cy"),
        ev(calls["code"], 1, "1", team="red"), ev(calls["code"], 1, "1"),
        ev(payments["code"], 1, "100", team="red"), ev(payments["code"], 1, "30"), ev(payments["code"], 2, "70"),
    ]})
    # precise amounts: the red filter's events only, and the rest's
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        {**ev(calls["code"], 2, "1", team="red"), "precise_total_amount_cents": "250.5"},
        {**ev(calls["code"], 2, "1"), "precise_total_amount_cents": "99.4"}]})
    found = await units()
    assert found[seats["code"]] == ("2", 4000, "2", 2000)
    assert found[calls["code"]][1] == 251 and found[calls["code"]][3] == 99
    # red: 50 % of 100; the rest: 10 % of 30 and of 70 plus 1.00 per transaction
    assert found[payments["code"]] == ("100", 5000, "100", 1200)

    # a remove stamped before the add that is already stored changes nothing; a later one removes
    await api.ok("POST", "/api/v1/events", {"event": ev(seats["code"], 5, "ann", team="red", operation_type="remove")})
    assert (await units())[seats["code"]] == ("2", 4000, "2", 2000)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(seats["code"], 20, "ann", team="red", operation_type="remove"),
        ev(seats["code"], 30, "cy", operation_type="remove"), ev(seats["code"], 25, "cy"),  # latest wins in a batch
        ev(seats["code"], 40, "dee")]})
    assert (await units())[seats["code"]] == ("1", 2000, "2", 2000)
    # re-adding a removed value counts it again, once however often it is added
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(seats["code"], 50, "ann", team="red"), ev(seats["code"], 51, "ann", team="red")]})
    assert (await units())[seats["code"]] == ("2", 4000, "2", 2000)
    async with subs.database.sessionmaker() as session:
        states = (await session.execute(text(
            "SELECT group_key, value, present FROM usage_unique_values v"
            " JOIN subscriptions s ON s.id = v.subscription_id WHERE s.organization_id = :org ORDER BY 1, 2"),
            {"org": org})).all()
    assert [tuple(r) for r in states] == [
        ("", "cy", False), ("", "dee", True), ('{"team":"blue"}', "ann", True), ('{"team":"red"}', "ann", True),
        ('{"team":"red"}', "bo", True)]


async def test_migration_0006_folds_existing_events_into_the_new_rollups(api, plans, subs, org, clock):
    """Upgrading a database whose events predate unique-count and amount rollups builds them from the events."""
    seats = await metric(plans, "unique_count_agg", filters=[{"key": "team", "values": ["red"]}])
    amounts = await metric(plans, "sum_agg", filters=[{"key": "team", "values": ["red"]}])
    plan = await plans.plan(charges=[
        {"billable_metric_id": seats["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": amounts["lago_id"], "charge_model": "dynamic", "properties": {}}])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})
    events = [(seats["code"], 3, {"value": "ann", "team": "red"}, None), (seats["code"], 1, {"value": "bo"}, None),
              (seats["code"], 2, {"value": "ann", "team": "red", "operation_type": "remove"}, None),
              (seats["code"], 4, {"value": "bo", "operation_type": "remove"}, None),
              (amounts["code"], 1, {"value": "1", "team": "red"}, "12.5"), (amounts["code"], 1, {"value": "1"}, "7")]
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": code,
         "timestamp": iso(START + timedelta(minutes=minute)), "properties": properties,
         "precise_total_amount_cents": precise} for code, minute, properties, precise in events]})

    async def state() -> tuple[list, list]:
        async with subs.database.sessionmaker() as session:
            rollups = (await session.execute(text(
                "SELECT code, group_key, events_count, unique_count, precise_sum FROM usage_rollups"
                " WHERE organization_id = :org ORDER BY 1, 2"), {"org": org})).all()
            values = (await session.execute(text(
                "SELECT v.code, group_key, value, present, last_at FROM usage_unique_values v"
                " JOIN subscriptions s ON s.id = v.subscription_id WHERE s.organization_id = :org ORDER BY 1, 2, 3"),
                {"org": org})).all()
        return [tuple(r) for r in rollups], [tuple(r) for r in values]

    ingested = await state()
    assert sorted((r[0], r[1], r[3], str(r[4])) for r in ingested[0]) == sorted([
        (seats["code"], '{"team":"red"}', 1, "0"), (seats["code"], "", 0, "0"),
        (amounts["code"], '{"team":"red"}', 0, "12.5"), (amounts["code"], "", 0, "7")])
    await subs.database.engine.dispose()
    await asyncio.to_thread(downgrade, "subscriptions", subs.database_url, "0005")
    await asyncio.to_thread(upgrade, "subscriptions", subs.database_url)
    assert await state() == ingested


async def test_percentage_on_the_total_unless_it_prices_each_transaction(api, plans, subs, org, clock):
    calls = await metric(plans, "count_agg")
    fees = await metric(plans, "count_agg")
    payments = await metric(plans, "sum_agg")
    plan = await plans.plan(charges=[
        {"billable_metric_id": calls["lago_id"], "charge_model": "percentage", "properties": {"rate": "10"}},
        {"billable_metric_id": fees["lago_id"], "charge_model": "percentage",
         "properties": {"rate": "10", "fixed_amount": "0.5"}},
        {"billable_metric_id": payments["lago_id"], "charge_model": "percentage",
         "properties": {"rate": "10", "free_units_per_total_aggregation": "50"}},
    ])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})

    def ev(code, value=None):
        return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": code,
                "timestamp": iso(START + timedelta(minutes=5)), "properties": {} if value is None else {"value": value}}

    await api.ok("POST", "/api/v1/events/batch", {"events": [
        *(ev(calls["code"]) for _ in range(3)), *(ev(fees["code"]) for _ in range(3)),
        ev(payments["code"], "100"), ev(payments["code"], "30"), ev(payments["code"], "70")]})
    usage = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                          params={"external_subscription_id": "sub_1"}))["customer_usage"]
    amounts = {c["billable_metric"]["code"]: (c["units"], c["amount_cents"]) for c in usage["charges_usage"]}
    assert amounts[calls["code"]] == ("3", 30)  # 10 % of 3 units, from the rollups
    assert amounts[fees["code"]] == ("3", 180)  # each call a transaction: 3 × (10 % of 1 + 0.50)
    assert amounts[payments["code"]] == ("200", 1500)  # 10 % of what is above the 50 free


async def test_every_charge_counts_the_same_events_stamped_before_the_start(api, plans, subs, org, clock):
    """An event stamped before the subscription started, in its first full period, counts in the first period
    (docs/metering.md). A `percentage` charge that prices each transaction reads the events themselves: it must see
    the same ones the rollups hold (it used to read from `started_at` and bill 0 for what the others billed)."""
    paid = await metric(plans, "sum_agg")
    plan = await plans.plan(charges=[
        {"billable_metric_id": paid["lago_id"], "charge_model": "percentage",
         "properties": {"rate": "10", "fixed_amount": "0.5"}},
        {"billable_metric_id": paid["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
    ])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})

    def ev(at, value):
        return {"transaction_id": uuid.uuid4().hex, "external_subscription_id": "sub_1", "code": paid["code"],
                "timestamp": iso(at), "properties": {"value": value}}

    await api.ok("POST", "/api/v1/events/batch", {"events": [
        ev(START - timedelta(seconds=1), "100"), ev(START + timedelta(minutes=5), "50")]})
    usage = (await api.ok("GET", "/api/v1/customers/cus_1/current_usage",
                          params={"external_subscription_id": "sub_1"}))["customer_usage"]
    amounts = {c["charge"]["charge_model"]: (c["units"], c["amount_cents"], c["events_count"])
               for c in usage["charges_usage"]}
    assert amounts["standard"] == ("150", 15_000, 2)
    assert amounts["percentage"] == ("150", 1_600, 2)  # 10 % of 150 + 2 × 0.50
