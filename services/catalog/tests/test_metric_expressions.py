"""Metric expressions in the catalog: validated when a metric is saved, and
`POST /billable_metrics/evaluate_expression` (Lago's shape) answers what one gives for an event."""

from __future__ import annotations

import pytest

EVALUATE = "/api/v1/billable_metrics/evaluate_expression"


async def test_a_metric_keeps_a_valid_expression_and_refuses_an_invalid_one(api):
    created = await api.metric("sum_agg", field_name="seconds",
                               expression="round((event.properties.ended_at - event.properties.started_at) * units)")
    assert created["expression"] == "round((event.properties.ended_at - event.properties.started_at) * units)"
    before = (await api.ok("GET", "/api/v1/billable_metrics"))["meta"]["total_count"]

    for expression in ("round(", "__import__('os')", "units ** 2", "sum(units)"):
        body = await api.error("POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "Bad", "code": api.code("bad"), "aggregation_type": "sum_agg", "field_name": "v",
            "expression": expression}})
        assert body["error_details"] == {"expression": ["invalid_expression"]}, expression
    # an expression needs a field to put its value in, even when counting
    body = await api.error("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "Bad", "code": api.code("bad"), "aggregation_type": "count_agg", "expression": "1 + 1"}})
    assert body["error_details"] == {"field_name": ["value_is_mandatory"]}
    body = await api.error("PUT", f"/api/v1/billable_metrics/{created['code']}",
                           {"billable_metric": {"expression": "1 +"}})
    assert body["error_details"] == {"expression": ["invalid_expression"]}
    assert (await api.ok("GET", "/api/v1/billable_metrics"))["meta"]["total_count"] == before  # nothing written
    unchanged = (await api.ok("GET", f"/api/v1/billable_metrics/{created['code']}"))["billable_metric"]
    assert unchanged["expression"] == created["expression"]


@pytest.mark.parametrize(("expression", "properties", "value"), [
    ("round((ended_at - started_at) * units)", {"started_at": 1_700_000_000, "ended_at": "1700000090.6", "units": 2},
     "181"),
    ("round(event.properties.gb / 3, 2)", {"gb": 10}, "3.33"),
    ("ceil(event.properties.gb / 3)", {"gb": "10"}, "4"),
    ("floor(gb * 1.5, -1)", {"gb": 33}, "40"),
    ("2 + 3 * 4", {}, "14"),
    ("concat(event.code, '/', region)", {"region": "eu"}, "storage/eu"),
])
async def test_evaluate_expression_in_lagos_shape(api, expression, properties, value):
    answer = await api.ok("POST", EVALUATE, {"expression": expression, "event": {
        "code": "storage", "timestamp": 1_700_000_000, "properties": properties}})
    assert answer == {"expression_result": {"value": value}}


async def test_evaluate_expression_reads_the_timestamp(api):
    answer = await api.ok("POST", EVALUATE, {"expression": "event.timestamp + 1",
                                             "event": {"code": "c", "timestamp": "1651240791", "properties": {}}})
    assert answer["expression_result"]["value"] == "1651240792"


async def test_evaluate_expression_errors(api):
    def body(expression, properties=None, **event):
        return {"expression": expression, "event": {"code": "c", "properties": properties or {}, **event}}

    assert (await api.error("POST", EVALUATE, body("")))["error_details"] == {"expression": ["value_is_mandatory"]}
    assert (await api.error("POST", EVALUATE, body("1 +")))["error_details"] == {"expression": ["invalid_expression"]}
    assert (await api.error("POST", EVALUATE, body("open('/etc/passwd')")))["error_details"] == {
        "expression": ["invalid_expression"]}
    missing = await api.error("POST", EVALUATE, body("units * 2"))
    assert missing["error_details"] == {"event": ["invalid_event"], "event.properties.units": ["value_is_mandatory"]}
    assert (await api.error("POST", EVALUATE, body("1 / gb", {"gb": 0})))["error_details"] == {
        "event": ["invalid_event"]}
    assert (await api.error("POST", EVALUATE, body("region * 2", {"region": "eu"})))["error_details"] == {
        "event": ["invalid_event"]}
    bad_time = await api.error("POST", EVALUATE, body("1", timestamp="yesterday"))
    assert bad_time["error_details"] == {"event.timestamp": ["invalid_timestamp"]}
    await api.error("POST", EVALUATE, {"expression": "1"}, status=400)  # no event: Lago's missing_param, not a 500


async def test_a_blank_expression_is_no_expression(api):
    created = await api.metric("count_agg", expression="   ")
    assert created["expression"] is None
    updated = (await api.ok("PUT", f"/api/v1/billable_metrics/{created['code']}",
                            {"billable_metric": {"expression": ""}}))["billable_metric"]
    assert updated["expression"] is None
