"""Current usage (Lago's `customer_usage`): units per charge and filter from the rollups, priced and taxed."""

from __future__ import annotations

import uuid
from datetime import timedelta

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
    assert usage["from_datetime"] == iso(START) and usage["to_datetime"] == "2026-04-01T00:00:00Z"
    by_code = {c["billable_metric"]["code"]: c for c in usage["charges_usage"]}
    assert by_code[calls["code"]]["units"] == "3" and by_code[calls["code"]]["amount_cents"] == 150
    assert by_code[seats["code"]]["units"] == "1" and by_code[seats["code"]]["amount_cents"] == 1000
    assert by_code[seats["code"]]["events_count"] == 4
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
    tenant = make_api(org, roles=("tenant",), customer="cus_2")
    await tenant.error("GET", "/api/v1/customers/cus_1/current_usage", params={"external_subscription_id": "sub_1"},
                       status=403)


async def test_projected_usage_extrapolates_additive_metrics(api, plans, clock):
    calls = await metric(plans, "count_agg")
    peak = await metric(plans, "max_agg")
    plan = await plans.plan(charges=[
        {"billable_metric_id": calls["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": peak["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}}])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_p"}})
    # the period runs from START (15 March 10:00) to 1 April: a quarter of it is about 99.5 hours
    period_end = START.replace(month=4, day=1, hour=0)
    clock.set(START + (period_end - START) / 4)
    await api.ok("POST", "/api/v1/events/batch", {"events": [
        {"transaction_id": f"p{i}", "external_subscription_id": "sub_p", "code": calls["code"]} for i in range(10)
    ] + [{"transaction_id": "m", "external_subscription_id": "sub_p", "code": peak["code"],
          "properties": {"value": 7}}]})
    body = (await api.ok("GET", "/api/v1/customers/cus_1/projected_usage",
                         params={"external_subscription_id": "sub_p"}))["customer_projected_usage"]
    by_code = {c["billable_metric"]["code"]: c for c in body["charges_usage"]}
    assert by_code[calls["code"]]["units"] == "10" and by_code[calls["code"]]["projected_units"] == "40"
    assert by_code[calls["code"]]["projected_amount_cents"] == 4000
    assert by_code[peak["code"]]["projected_units"] == "7" and by_code[peak["code"]]["projected_amount_cents"] == 700
    assert body["amount_cents"] == 1700 and body["projected_amount_cents"] == 4700
