"""Lago's `current_usage` filters: one charge (by id or code, also the deprecated `filter_by_*`), one
billable metric, one pricing group (`group[key]=value`, `filter_by_group[...]`); the totals are those of
what is kept; unknown charges and metrics are 404, bad filters 4xx; `full_usage=true` is the usage since the
subscription started, priced once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from subscriptions.subscriptions.scheduler import run_pass

from .conftest import (  # noqa: TID252
    START,  # noqa: TID252
    Api,
    Plans,
)
from .test_usage_current import metric  # noqa: TID252
from .test_usage_grouped import GRADUATED, ev, subscribe  # noqa: TID252

URL = "/api/v1/customers/cus_1/current_usage"


async def _usage(api: Api, **params) -> dict:
    return (await api.ok("GET", URL, params={"external_subscription_id": "sub_1", **params}))["customer_usage"]


async def _setup(api: Api, plans: Plans) -> tuple[dict, dict, dict]:
    calls = await metric(plans, "count_agg")
    storage = await metric(plans, "count_agg")
    sub = await subscribe(api, plans, [
        {"billable_metric_id": calls["lago_id"], "charge_model": "graduated",
         "properties": {"graduated_ranges": GRADUATED, "pricing_group_keys": ["region"]}},
        {"billable_metric_id": storage["lago_id"], "charge_model": "standard", "properties": {"amount": "2"}},
    ])
    events = ([ev(calls["code"], region="eu") for _ in range(8)] + [ev(calls["code"], region="us") for _ in range(12)]
              + [ev(storage["code"]) for _ in range(3)])
    await api.ok("POST", "/api/v1/events/batch", {"events": events})
    return calls, storage, sub


async def test_one_charge_one_metric_one_group(api, plans, clock):
    calls, storage, _sub = await _setup(api, plans)
    whole = await _usage(api)
    charges = {c["billable_metric"]["code"]: c for c in whole["charges_usage"]}
    assert whole["amount_cents"] == 900 + 1200 + 600

    by_id = await _usage(api, charge_id=charges[storage["code"]]["charge"]["lago_id"])
    assert [c["billable_metric"]["code"] for c in by_id["charges_usage"]] == [storage["code"]]
    assert by_id["amount_cents"] == 600 and by_id["total_amount_cents"] == 600
    deprecated = await _usage(api, filter_by_charge_id=charges[storage["code"]]["charge"]["lago_id"])
    assert deprecated["charges_usage"] == by_id["charges_usage"]

    by_metric = await _usage(api, billable_metric_code=calls["code"])
    assert [c["billable_metric"]["code"] for c in by_metric["charges_usage"]] == [calls["code"]]
    assert by_metric["amount_cents"] == 2100

    eu = await _usage(api, **{"group[region]": "eu"})
    [only] = eu["charges_usage"]  # the charge that does not group by region is left out
    assert only["billable_metric"]["code"] == calls["code"]
    assert [g["grouped_by"] for g in only["grouped_usage"]] == [{"region": "eu"}]
    assert only["units"] == "8" and only["amount_cents"] == 900 and eu["amount_cents"] == 900
    us = await _usage(api, **{"filter_by_group[region]": "us", "charge_code": only.get("charge", {}).get("code")
                              or calls["code"]})
    assert us["amount_cents"] == 1200 and us["charges_usage"][0]["units"] == "12"
    as_json = await _usage(api, filter_by_group='{"region": "eu"}')  # what Lago's clients send
    assert as_json["charges_usage"] == eu["charges_usage"]
    nowhere = await _usage(api, **{"group[region]": "mars"})
    assert nowhere["charges_usage"] == [] and nowhere["amount_cents"] == 0


async def test_unknown_filters_and_bad_input(api, plans, clock):
    await _setup(api, plans)
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1", "charge_id": str(uuid.uuid4())},
                           status=404)
    assert body["code"] == "charge_not_found"
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1", "charge_code": "nope"},
                           status=404)
    assert body["code"] == "charge_not_found"
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1",
                                               "billable_metric_code": "nope"}, status=404)
    assert body["code"] == "billable_metric_not_found"
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1", "charge_id": "not-a-uuid"})
    assert body["status"] == 422 and "charge_id" in body["error_details"]
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1", "full_usage": "true"})
    assert body["error_details"] == {"full_usage": ["charge_or_group_filter_required"]}
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1", "full_usage": "true",
                                               "charge_code": "x"}, status=404)
    assert body["code"] == "charge_not_found"
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1", "full_usage": "maybe",
                                               "charge_code": "x"})
    assert "full_usage" in body["error_details"]
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1", "group[]": "eu"})
    assert body["error_details"] == {"group": ["value_is_invalid"]}
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1", "filter_by_group": "[1]"})
    assert body["error_details"] == {"filter_by_group": ["value_is_invalid"]}


async def test_filters_never_reach_another_organization(api, plans, clock, make_api):
    calls, _storage, _sub = await _setup(api, plans)
    stranger = make_api(uuid.uuid4())
    await stranger.error("GET", URL, params={"external_subscription_id": "sub_1", "billable_metric_code":
                                             calls["code"]}, status=404)


async def test_full_usage_is_the_usage_since_the_subscription_started(subs, api, plans, clock, make_api):
    calls = await metric(plans, "count_agg")
    visitors = await metric(plans, "unique_count_agg")
    await subscribe(api, plans, [
        {"billable_metric_id": calls["lago_id"], "charge_model": "graduated",
         "properties": {"graduated_ranges": GRADUATED}},
        {"billable_metric_id": visitors["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
    ])
    await api.ok("POST", "/api/v1/events/batch", {"events": [ev(calls["code"]) for _ in range(8)]})
    first_end = START.replace(month=4, day=1, hour=0, minute=0)  # calendar monthly, UTC
    clock.set(first_end + timedelta(hours=1))
    assert await run_pass(subs.database.sessionmaker, clock.now())
    in_april = int((first_end - START).total_seconds() // 60) + 30  # 00:30 on 1 April
    await api.ok("POST", "/api/v1/events/batch", {"events": [ev(calls["code"], minutes=in_april) for _ in range(6)]})

    open_period = await _usage(api)
    charge_id = next(c["charge"]["lago_id"] for c in open_period["charges_usage"]
                     if c["billable_metric"]["code"] == calls["code"])
    period_only = await _usage(api, charge_id=charge_id)
    assert period_only["charges_usage"][0]["units"] == "6" and period_only["amount_cents"] == 700  # 1 + 6 × 1

    full = await _usage(api, charge_id=charge_id, full_usage="true")
    [charge] = full["charges_usage"]
    assert charge["units"] == "14" and charge["events_count"] == 14
    # priced once over the 14 units (11 + 4 × 0.5), not per period (9 + 7)
    assert full["amount_cents"] == charge["amount_cents"] == 1300
    assert full["from_datetime"].startswith(START.isoformat()[:19])
    assert full["to_datetime"] == period_only["to_datetime"]
    # the deprecated filter name works the same
    assert (await _usage(api, filter_by_charge_id=charge_id, full_usage="true"))["charges_usage"] == [charge]

    visitors_charge = next(c["charge"]["lago_id"] for c in open_period["charges_usage"]
                           if c["billable_metric"]["code"] == visitors["code"])
    body = await api.error("GET", URL, params={"external_subscription_id": "sub_1", "full_usage": "true",
                                               "charge_id": visitors_charge})
    assert body["error_details"] == {"full_usage": ["not_supported_for_aggregation"]}
    # a group filter leaves out charges not grouped by its keys: the unique count is no obstacle then
    grouped = await _usage(api, full_usage="true", **{"group[region]": "eu"})
    assert grouped["charges_usage"] == [] and grouped["amount_cents"] == 0
    await make_api(uuid.uuid4()).error("GET", URL, params={"external_subscription_id": "sub_1", "full_usage": "true",
                                                           "charge_id": charge_id}, status=404)
