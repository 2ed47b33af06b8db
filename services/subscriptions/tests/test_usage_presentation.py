"""Presentation groups (Lago's `presentation_group_keys`): a charge's current usage is broken down by the events'
values for those keys in `presentation_breakdowns`, for display only — units, amount and pricing groups unchanged."""

from __future__ import annotations

import json

from .test_usage_current import metric  # noqa: TID252
from .test_usage_grouped import ev, subscribe, usage  # noqa: TID252


async def test_breakdowns_by_presentation_keys_leave_pricing_alone(api, plans, clock):
    calls, storage = await metric(plans, "count_agg"), await metric(plans, "sum_agg")
    plain, peak = await metric(plans, "count_agg"), await metric(plans, "max_agg")
    shown = [{"value": "team"}, {"value": "region", "options": {"display_in_invoice": True}}]
    await subscribe(api, plans, [
        {"billable_metric_id": calls["lago_id"], "charge_model": "standard",
         "properties": {"amount": "1", "presentation_group_keys": shown}},
        {"billable_metric_id": storage["lago_id"], "charge_model": "standard",
         "properties": {"amount": "0.5", "presentation_group_keys": [{"value": "team"}]}},
        {"billable_metric_id": plain["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": peak["lago_id"], "charge_model": "standard",
         "properties": {"amount": "1", "presentation_group_keys": [{"value": "team"}]}},
    ])
    events = ([ev(calls["code"], team="eng", region="eu") for _ in range(3)]
              + [ev(calls["code"], team="ops", region="eu"), ev(calls["code"], team="eng", region="us"),
                 ev(calls["code"], region="us")]
              + [ev(storage["code"], team="eng", value="2.5"), ev(storage["code"], team="eng", value="1"),
                 ev(storage["code"], team="ops", value="4")]
              + [ev(plain["code"], team="eng"), ev(peak["code"], team="eng", value="7")])
    await api.ok("POST", "/api/v1/events/batch", {"events": events})
    by_code = await usage(api)

    counted = by_code[calls["code"]]
    assert counted["units"] == "6" and counted["amount_cents"] == 600 and counted["grouped_usage"] == []
    assert counted["presentation_breakdowns"] == [
        {"presentation_by": {"team": None, "region": "us"}, "units": "1"},
        {"presentation_by": {"team": "eng", "region": "eu"}, "units": "3"},
        {"presentation_by": {"team": "eng", "region": "us"}, "units": "1"},
        {"presentation_by": {"team": "ops", "region": "eu"}, "units": "1"},
    ]
    summed = by_code[storage["code"]]
    assert summed["units"] == "7.5" and summed["amount_cents"] == 375
    assert summed["presentation_breakdowns"] == [{"presentation_by": {"team": "eng"}, "units": "3.5"},
                                                 {"presentation_by": {"team": "ops"}, "units": "4"}]
    assert "presentation_breakdowns" not in by_code[plain["code"]]  # no presentation keys: no key at all
    assert by_code[peak["code"]]["presentation_breakdowns"] == []  # a max does not split by event: not built
    assert by_code[""]["amount_cents"] == 600 + 375 + 100 + 700


async def test_bad_presentation_keys_are_refused(api, plans):
    calls = await metric(plans, "count_agg")
    for bad in ("team", [{"value": ""}], [{"options": {}}], [{"value": "team", "options": "x"}]):
        error = await plans.api.error("POST", "/api/v1/plans", {"plan": {
            "name": "p", "code": "p_bad", "interval": "monthly", "amount_cents": 0, "amount_currency": "EUR",
            "pay_in_advance": False, "charges": [{"billable_metric_id": calls["lago_id"], "charge_model": "standard",
                                                 "properties": {"amount": "1", "presentation_group_keys": bad}}]}})
        assert "invalid_presentation_group_keys" in json.dumps(error), (bad, error)
