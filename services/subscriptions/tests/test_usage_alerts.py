"""Usage alerts: Lago's CRUD, and `alert.triggered` published once per threshold crossing."""

from __future__ import annotations

import uuid

import jsonschema_rs
import pytest
from sqlalchemy import text

from subscriptions.usage.alerts import crossed, evaluate_alerts

from .conftest import START  # noqa: TID252


async def triggered(subs, org) -> list[dict]:
    async with subs.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = 'alert.triggered' "
            "AND envelope->>'organization_id' = :org ORDER BY position"), {"org": str(org)})).scalars().all()
    return [row["data"] for row in rows]


def test_crossings():
    fixed = [{"code": "a", "value": "10", "recurring": False}, {"code": "b", "value": "20", "recurring": False}]
    every = [*fixed, {"code": "r", "value": "5", "recurring": True}]
    from decimal import Decimal as D
    assert [t["code"] for t in crossed(fixed, D(0), D(15))] == ["a"]
    assert [t["code"] for t in crossed(fixed, D(10), D(25))] == ["b"]
    assert crossed(fixed, D(25), D(30)) == []
    assert [t["value"] for t in crossed(every, D(15), D(31))] == ["20", "25", "30"]
    assert [t["value"] for t in crossed(every, D(30), D(35))] == ["35"]


async def test_alert_crud_and_single_trigger_per_crossing(api, plans, subs, org, clock):
    body = {"name": "Calls", "code": f"calls_{uuid.uuid4().hex[:6]}", "aggregation_type": "count_agg"}
    calls = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": body}))["billable_metric"]
    plan = await plans.plan(charges=[{"billable_metric_id": calls["lago_id"], "charge_model": "standard",
                                      "properties": {"amount": "1"}}])
    await api.customer("cus_1")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus_1", "plan_code": plan["code"], "external_id": "sub_1"}})
    created = (await api.ok("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": {
        "alert_type": "billable_metric_current_usage_units", "code": "units", "billable_metric_code": calls["code"],
        "thresholds": [{"code": "warn", "value": 3}, {"code": "every", "value": "5", "recurring": True}]}}))["alert"]
    assert created["code"] == "units" and created["thresholds"][0]["value"] == "3"
    await api.ok("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": {
        "alert_type": "current_usage_amount", "code": "money", "thresholds": [{"value": 250}]}})
    assert [a["code"] for a in (await api.ok("GET", "/api/v1/subscriptions/sub_1/alerts"))["alerts"]] == [
        "units", "money"]
    assert (await api.ok("GET", "/api/v1/subscriptions/sub_1/alerts/money"))["alert"]["alert_type"] == (
        "current_usage_amount")
    body = await api.error("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": {
        "alert_type": "billable_metric_current_usage_units", "code": "units", "thresholds": [{"value": -1}]}})
    assert body["error_details"] == {"thresholds.0.value": ["value_is_out_of_range"]}
    body = await api.error("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": {
        "alert_type": "billable_metric_current_usage_units", "code": "units", "thresholds": [{"value": 1}]}})
    assert body["error_details"] == {"billable_metric_code": ["value_is_mandatory"]}
    await api.error("POST", "/api/v1/subscriptions/nope/alerts", {"alert": {
        "alert_type": "current_usage_amount", "code": "x", "thresholds": [{"value": 1}]}}, status=404)

    async def send(n: int, prefix: str) -> None:
        await api.ok("POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": f"{prefix}{i}", "external_subscription_id": "sub_1", "code": calls["code"]}
            for i in range(n)]})

    await send(4, "a")
    assert await evaluate_alerts(subs.database.sessionmaker, clock.now()) >= 1
    assert await evaluate_alerts(subs.database.sessionmaker, clock.now()) == 0  # nothing new: nothing published
    await send(7, "b")  # 11 units: 8 crossed (3 + 5); 300 cents: money crossed
    await evaluate_alerts(subs.database.sessionmaker, clock.now())
    events = await triggered(subs, org)
    units = [e for e in events if e["alert"]["code"] == "units"]
    assert [[t["value"] for t in e["crossed_thresholds"]] for e in units] == [["3"], ["8"]]
    assert [e["current_value"] for e in units] == ["4", "11"]
    money = [e for e in events if e["alert"]["code"] == "money"]
    assert len(money) == 1 and money[0]["crossed_thresholds"][0]["value"] == "250"
    assert (await api.ok("DELETE", "/api/v1/subscriptions/sub_1/alerts/money"))["alert"]["code"] == "money"
    await api.error("GET", "/api/v1/subscriptions/sub_1/alerts/money", status=404)
    assert START  # the clock stays in the open period throughout


async def _subscription(api, external_id: str = "sub_1") -> None:
    await api.customer(f"cus_{external_id}")
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": f"cus_{external_id}", "plan_code": PLAN_CODE, "external_id": external_id}})


PLAN_CODE = "alerts_plan"


@pytest.fixture
async def subscribed(api, plans):
    """`sub_1` (and `sub_2`) on a plain plan, for the organization of `api`."""
    await plans.plan(code=PLAN_CODE)
    await _subscription(api, "sub_1")
    await _subscription(api, "sub_2")


def _alert(code: str, *values, recurring: bool = False, **fields) -> dict:
    return {"alert_type": "current_usage_amount", "code": code,
            "thresholds": [{"value": value, "recurring": recurring} for value in values or (100,)], **fields}


async def _codes(api, external_id: str = "sub_1") -> list[str]:
    return [a["code"] for a in (await api.ok("GET", f"/api/v1/subscriptions/{external_id}/alerts"))["alerts"]]


async def test_update_changes_the_given_fields_only(api, subscribed, make_api):
    url = "/api/v1/subscriptions/sub_1/alerts"
    await api.ok("POST", url, {"alert": _alert("spend", 100, name="Spend")})
    await api.ok("POST", url, {"alert": _alert("other", 5)})
    updated = (await api.ok("PUT", f"{url}/spend", {"alert": {
        "code": "spend_v2", "thresholds": [{"code": "hi", "value": "250.50"}, {"value": 50, "recurring": True}]}}))
    assert updated["alert"]["code"] == "spend_v2" and updated["alert"]["name"] == "Spend"
    assert updated["alert"]["thresholds"] == [{"code": "hi", "value": "250.50", "recurring": False},
                                              {"code": None, "value": "50", "recurring": True}]
    await api.error("GET", f"{url}/spend", status=404)
    stored = (await api.ok("GET", f"{url}/spend_v2"))["alert"]
    assert stored["thresholds"] == updated["alert"]["thresholds"] and stored["lago_id"] == updated["alert"]["lago_id"]
    # an empty or absent list keeps the thresholds (Lago); a null name clears it
    kept = (await api.ok("PUT", f"{url}/spend_v2", {"alert": {"name": None, "thresholds": []}}))["alert"]
    assert kept["name"] is None and kept["thresholds"] == stored["thresholds"]
    # bad input: field-level 422 and nothing changes
    body = await api.error("PUT", f"{url}/spend_v2", {"alert": {"code": "other"}})
    assert body["error_details"] == {"code": ["value_already_exist"]}
    body = await api.error("PUT", f"{url}/spend_v2", {"alert": {"name": "x", "thresholds": [
        {"value": 1, "recurring": True}, {"value": 2, "recurring": True}]}})
    assert body["error_details"] == {"thresholds": ["only_one_recurring_threshold"]}
    body = await api.error("PUT", f"{url}/spend_v2", {"alert": {"thresholds": [{"value": "ten"}]}})
    assert body["error_details"] == {"thresholds.0.value": ["value_is_invalid"]}
    assert (await api.ok("GET", f"{url}/spend_v2"))["alert"] == kept
    await api.error("PUT", f"{url}/nope", {"alert": {"name": "x"}}, status=404)
    await api.error("PUT", f"{url}/spend_v2", {"nope": {}}, status=400)
    # another organization sees nothing
    stranger = make_api(uuid.uuid4())
    await stranger.error("PUT", f"{url}/spend_v2", {"alert": {"name": "stolen"}}, status=404)
    assert (await api.ok("GET", f"{url}/spend_v2"))["alert"]["name"] is None


async def test_update_changes_the_metric_of_billable_metric_alerts_only(api, subscribed):
    url = "/api/v1/subscriptions/sub_1/alerts"
    await api.ok("POST", url, {"alert": _alert("units", 3, alert_type="billable_metric_current_usage_units",
                                               billable_metric_code="calls")})
    await api.ok("POST", url, {"alert": _alert("money", 3)})
    moved = (await api.ok("PUT", f"{url}/units", {"alert": {"billable_metric_code": "storage"}}))["alert"]
    assert moved["billable_metric"] == {"code": "storage"}
    kept = (await api.ok("PUT", f"{url}/money", {"alert": {"billable_metric_code": "storage"}}))["alert"]
    assert kept["billable_metric"] is None


async def test_batch_creation_is_all_or_nothing_with_errors_by_index(api, subscribed, make_api):
    url = "/api/v1/subscriptions/sub_1/alerts"
    await api.ok("POST", url, {"alert": _alert("taken")})
    created = await api.ok("POST", url, {"alerts": [_alert("a", 10), _alert("b", 20, name="B")]})
    assert [a["code"] for a in created["alerts"]] == ["a", "b"] and "alert" not in created
    assert created["alerts"][1]["name"] == "B" and created["alerts"][1]["thresholds"][0]["value"] == "20"
    assert await _codes(api) == ["taken", "a", "b"]
    # business rules: each invalid alert under its index
    body = await api.error("POST", url, {"alerts": [
        _alert("c"), _alert("taken"), _alert("d", alert_type="billable_metric_current_usage_amount"),
        _alert("c"), _alert("e", 1, 2, recurring=True)]})
    assert body["code"] == "validation_errors" and body["error_details"] == {
        "1": {"code": ["value_already_exist"]},
        "2": {"billable_metric_code": ["value_is_mandatory"]},
        "3": {"code": ["value_already_exist"]},  # twice in the same batch
        "4": {"thresholds": ["only_one_recurring_threshold"]},
    }
    # shape errors: keyed by index too
    body = await api.error("POST", url, {"alerts": [_alert("f"), _alert("g", "ten"), {"code": "h"}]})
    assert body["error_details"] == {
        "1": {"thresholds.0.value": ["value_is_invalid"]},
        "2": {"alert_type": ["value_is_mandatory"], "thresholds": ["value_is_mandatory"]},
    }
    assert await _codes(api) == ["taken", "a", "b"]  # nothing created
    body = await api.error("POST", url, {"alerts": []})
    assert body["error_details"] == {"alerts": ["too_few_items"]}
    await api.error("POST", url, {}, status=400)
    await api.error("POST", url, {"alert": None, "alerts": None}, status=400)
    # `alerts` wins over `alert` (Lago's controller)
    both = await api.ok("POST", url, {"alert": _alert("single"), "alerts": [_alert("many")]})
    assert [a["code"] for a in both["alerts"]] == ["many"] and "single" not in await _codes(api)
    await api.error("POST", "/api/v1/subscriptions/nope/alerts", {"alerts": [_alert("x")]}, status=404)
    stranger = make_api(uuid.uuid4())
    await stranger.error("POST", url, {"alerts": [_alert("x")]}, status=404)
    assert "x" not in await _codes(api)


async def test_delete_all_alerts_of_one_subscription(api, subscribed, make_api):
    await api.ok("POST", "/api/v1/subscriptions/sub_1/alerts", {"alerts": [_alert("a"), _alert("b")]})
    await api.ok("POST", "/api/v1/subscriptions/sub_2/alerts", {"alert": _alert("a")})
    stranger = make_api(uuid.uuid4())
    await stranger.error("DELETE", "/api/v1/subscriptions/sub_1/alerts", status=404)
    assert await _codes(api) == ["a", "b"]
    response = await api.client.delete("/api/v1/subscriptions/sub_1/alerts")
    assert response.status_code == 200 and response.content == b""  # Lago: `head(:ok)`
    assert await _codes(api) == [] and await _codes(api, "sub_2") == ["a"]
    response = await api.client.delete("/api/v1/subscriptions/sub_1/alerts")
    assert response.status_code == 200
    await api.error("DELETE", "/api/v1/subscriptions/nope/alerts", status=404)


async def test_list_is_paginated(api, subscribed, make_api):
    url = "/api/v1/subscriptions/sub_1/alerts"
    await api.ok("POST", url, {"alerts": [_alert(code) for code in ("a", "b", "c")]})
    first = await api.ok("GET", url, params={"per_page": 2})
    assert [a["code"] for a in first["alerts"]] == ["a", "b"]
    assert first["meta"] == {"current_page": 1, "next_page": 2, "prev_page": None, "total_pages": 2,
                             "total_count": 3}
    second = await api.ok("GET", url, params={"per_page": 2, "page": 2})
    assert [a["code"] for a in second["alerts"]] == ["c"] and second["meta"]["prev_page"] == 1
    body = await api.error("GET", url, params={"per_page": 0})
    assert list(body["error_details"]) == ["per_page"]
    await api.error("GET", "/api/v1/subscriptions/nope/alerts", status=404)
    await make_api(uuid.uuid4()).error("GET", url, status=404)


THRESHOLD_VALUES = [0, 0.0, "0", "0.0", "0.000", 1, 2.5, "12.5", 10**20, 10**20 + 1, "100000000000000000000.0",
                    -1, -0.5, "-1", "1e3", "", "abc", " 5", True, None, [], 1e-7, "0.0000000000001"]


async def test_threshold_values_accepted_exactly_as_documented(api, subscribed):
    """Zero is a threshold (Lago allows it; usage starting at zero never crosses it), except a recurring one."""
    document = (await api.client.get("/openapi.json")).json()
    validator = jsonschema_rs.validator_for({"$ref": "#/components/schemas/AlertCreateBody",
                                             "components": document["components"]}, validate_formats=True)
    answers = []
    for index, value in enumerate(THRESHOLD_VALUES):
        for recurring in (False, True):
            body = {"alert": {"alert_type": "current_usage_amount", "code": f"v{index}_{recurring}",
                              "thresholds": [{"value": value, "recurring": recurring}]}}
            response = await api.client.post("/api/v1/subscriptions/sub_1/alerts", json=body)
            assert response.status_code in (200, 422), response.text
            answers.append((value, recurring, response.status_code))
            assert (response.status_code == 200) == validator.is_valid(body), (value, recurring, response.text)
    accepted = {(value, recurring) for value, recurring, status in answers if status == 200}
    assert {(0, False), ("0.0", False), ("12.5", True)} <= accepted
    assert not {(0, True), ("0.0", True), (-1, False), ("1e3", False)} & accepted
    body = await api.error("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": _alert("z", 0, recurring=True)})
    assert body["error_details"] == {"thresholds.0.value": ["value_is_out_of_range"]}
    body = await api.error("POST", "/api/v1/subscriptions/sub_1/alerts", {"alert": _alert("n", -1)})
    assert body["error_details"] == {"thresholds.0.value": ["value_is_out_of_range"]}
    stored = (await api.ok("GET", "/api/v1/subscriptions/sub_1/alerts/v0_False"))["alert"]["thresholds"]
    assert stored == [{"code": None, "value": "0", "recurring": False}]


async def test_lifetime_usage_takes_integral_floats_as_its_schema_says(api, subscribed):
    """The amount is an OpenAPI `integer`, which admits 100.0 (not 100.5, nor "100")."""
    url = "/api/v1/subscriptions/sub_1/lifetime_usage"
    answer = await api.ok("PUT", url, {"lifetime_usage": {"external_historical_usage_amount_cents": 100.0}})
    assert answer["lifetime_usage"]["external_historical_usage_amount_cents"] == 100
    for bad in (100.5, "100", True):
        body = await api.error("PUT", url, {"lifetime_usage": {"external_historical_usage_amount_cents": bad}})
        assert list(body["error_details"]) == ["external_historical_usage_amount_cents"]
    document = (await api.client.get("/openapi.json")).json()
    schema = document["components"]["schemas"]["LifetimeUsageInput"]["properties"][
        "external_historical_usage_amount_cents"]
    assert schema["type"] == "integer"
