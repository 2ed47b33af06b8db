"""Bad input is a 4xx with Lago's error body, never a 500 — what an API fuzzer throws at every endpoint."""

from __future__ import annotations

import json
import random
from urllib.parse import quote

import pytest

BODIES = [
    None, "", "null", "[]", "{}", "42", '"text"', "{bad json", json.dumps({"x": 1}),
    json.dumps({"plan": None}), json.dumps({"plan": []}), json.dumps({"plan": "x"}),
    json.dumps({"plan": {"name": 1, "code": ["a"], "amount_cents": "x" * 10, "charges": "nope"}}),
    json.dumps({"plan": {"charges": [None, 1, "x", {"properties": []}]}}),
    json.dumps({"plan": {"name": "\u0000", "code": "\ud800"}}),
    '{"tax": {"rate": NaN, "name": "n", "code": "c"}}', '{"tax": {"rate": Infinity, "name": "n", "code": "c"}}',
    json.dumps({"tax": {"rate": 10**400, "name": "n", "code": "c"}}),
    json.dumps({"add_on": {"amount_cents": 2**70, "name": "n", "code": "c", "amount_currency": "EUR"}}),
    json.dumps({"billable_metric": {"filters": [{"key": "k", "values": [None]}], "name": "n", "code": "c",
                                    "aggregation_type": "sum_agg", "field_name": "f"}}),
    json.dumps({"coupon": {"expiration_at": "99999-01-01", "name": "n", "code": "c"}}),
    json.dumps({"feature": {"code": "c", "privileges": [{"code": "p", "config": {"a": {"b": {"c": {"d": {"e": {
        "f": {"g": {"h": {"i": {"j": {"k": 1}}}}}}}}}}}}]}}),
    json.dumps({"entitlements": {"f": {"p": {"deep": [1, 2]}}}}),
    json.dumps({"charge": {"billable_metric_id": "not-a-uuid", "charge_model": "standard",
                           "properties": {"amount": "1" * 100, "graduated_ranges": [{"from_value": 10**30}]}}}),
    json.dumps({"filter": {"values": {"": []}, "properties": {"amount": "1"}}}),
    json.dumps({"fixed_charge": {"units": "1e999", "add_on_code": "x", "charge_model": "standard"}}),
    json.dumps({"metadata": {"k" * 200: "v"}}),
]

PATHS = [
    ("POST", "/api/v1/plans"), ("PUT", "/api/v1/plans/{code}"),
    ("POST", "/api/v1/plans/{code}/charges"), ("PUT", "/api/v1/plans/{code}/charges/{code}"),
    ("DELETE", "/api/v1/plans/{code}/charges/{code}"),
    ("POST", "/api/v1/plans/{code}/charges/{code}/filters"),
    ("PUT", "/api/v1/plans/{code}/charges/{code}/filters/{code}"),
    ("POST", "/api/v1/plans/{code}/fixed_charges"), ("PUT", "/api/v1/plans/{code}/fixed_charges/{code}"),
    ("POST", "/api/v1/plans/{code}/entitlements"), ("PATCH", "/api/v1/plans/{code}/entitlements"),
    ("POST", "/api/v1/plans/{code}/metadata"), ("PATCH", "/api/v1/plans/{code}/metadata"),
    ("GET", "/api/v1/plan_versions/{code}"), ("GET", "/api/v1/plans/{code}/versions"),
    ("POST", "/api/v1/billable_metrics"), ("PUT", "/api/v1/billable_metrics/{code}"),
    ("POST", "/api/v1/add_ons"), ("PUT", "/api/v1/add_ons/{code}"),
    ("POST", "/api/v1/features"), ("PUT", "/api/v1/features/{code}"),
    ("DELETE", "/api/v1/features/{code}/privileges/{code}"),
    ("POST", "/api/v1/coupons"), ("PUT", "/api/v1/coupons/{code}"),
    ("POST", "/api/v1/taxes"), ("PUT", "/api/v1/taxes/{code}"), ("GET", "/api/v1/taxes/{code}"),
    ("DELETE", "/api/v1/plans/{code}"),  # last: archiving `known` ends the plan paths' happy cases
]
CODES = ["known", "unknown", "%00", "%F0%9F%92%A9", "x" * 3000, "%E2%80%AE", "..%2F..", "' OR 1=1 --"]


@pytest.fixture(scope="module")
async def seeded(module_api):
    """A plan with a charge, an add-on, a feature…, all with the code `known`, in the module's organization."""
    api = module_api
    metric = await api.metric(code="known", filters=[{"key": "k", "values": ["v"]}])
    await api.add_on(code="known")
    await api.feature(code="known")
    await api.tax(code="known")
    await api.plan([{"billable_metric_id": metric["lago_id"], "code": "known", "charge_model": "standard",
                     "properties": {"amount": "1"}}], code="known")
    return api


async def test_no_input_makes_the_service_fail(seeded):
    client = seeded.client
    rng = random.Random(4)
    failures = []
    for method, template in PATHS:
        for code in CODES:
            path = template.replace("{code}", code)
            for body in rng.sample(BODIES, 6) if method != "GET" else [None]:
                response = await client.request(method, path, content=body,
                                                headers={"content-type": "application/json"})
                if response.status_code >= 500 or (response.status_code >= 400 and "code" not in response.json()):
                    failures.append((method, path[:80], body and body[:80], response.status_code, response.text[:200]))
    assert failures == []


ODD_VALUES = [None, -1, 0, 10**20, -(10**20), 1.5, float("1e308"), True, "", "x" * 300, "\u0000", "NaN", "-0",
              "1e5", "0.000000000000000000001", [], {}, [None], {"a": None}, "2024-13-45T99:99:99"]


def _mutate(value, rng: random.Random):
    """The same body with one leaf (or container) replaced by something odd."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: _mutate(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        return [*value[:index], _mutate(value[index], rng), *value[index + 1:]]
    return rng.choice(ODD_VALUES)


async def test_mutated_valid_bodies_never_fail(seeded):
    metric = (await seeded.ok("GET", "/api/v1/billable_metrics/known"))["billable_metric"]
    valid = {"plan": {
        "name": "P", "code": "mutant", "interval": "yearly", "amount_cents": 100, "amount_currency": "EUR",
        "pay_in_advance": False, "trial_period": 3, "bill_charges_monthly": True, "tax_codes": ["known"],
        "minimum_commitment": {"amount_cents": 10, "tax_codes": ["known"]},
        "usage_thresholds": [{"amount_cents": 10, "recurring": False}],
        "fixed_charges": [{"add_on_code": "known", "charge_model": "volume", "units": "2",
                           "properties": {"volume_ranges": [
                               {"from_value": 0, "to_value": 5, "per_unit_amount": "1", "flat_amount": "0"},
                               {"from_value": 6, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "1"}]}}],
        "charges": [
            {"billable_metric_id": metric["lago_id"], "charge_model": "graduated", "properties": {"graduated_ranges": [
                {"from_value": 0, "to_value": 5, "per_unit_amount": "1", "flat_amount": "0"},
                {"from_value": 6, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "1"}]},
             "filters": [{"values": {"k": ["v"]}, "properties": {"graduated_ranges": [
                 {"from_value": 0, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"}]}}]},
            {"billable_metric_code": "known", "charge_model": "percentage", "properties": {
                "rate": "1", "fixed_amount": "0.1", "free_units_per_events": 2, "per_transaction_min_amount": "0.1",
                "per_transaction_max_amount": "5"}},
        ],
    }}
    assert (await seeded.client.post("/api/v1/plans", json=valid)).status_code == 200
    await seeded.ok("DELETE", "/api/v1/plans/mutant")
    rng = random.Random(7)
    failures = []
    for _ in range(300):
        body = _mutate(valid, rng)
        response = await seeded.client.post("/api/v1/plans", content=json.dumps(body),
                                            headers={"content-type": "application/json"})
        if response.status_code >= 500:
            failures.append((json.dumps(body)[:300], response.text[:200]))
        elif response.status_code == 200:
            await seeded.ok("DELETE", f"/api/v1/plans/{quote(response.json()['plan']['code'], safe='')}")
        update = await seeded.client.put("/api/v1/plans/known", content=json.dumps(body),
                                         headers={"content-type": "application/json"})
        if update.status_code >= 500:
            failures.append(("PUT", json.dumps(body)[:300], update.text[:200]))
    assert failures == []


async def test_query_parameters_are_bounded(seeded):
    for query in ["page=0", "page=-1", "per_page=1000", "page=abc", "page=99999999999999999999", "per_page=0"]:
        response = await seeded.client.get(f"/api/v1/plans?{query}")
        assert response.status_code == 422 and response.json()["code"] == "validation_errors", query
    for query in ["aggregation_types[]=nope", "plan_code=%00", "plan_code=" + "x" * 5000]:
        response = await seeded.client.get(f"/api/v1/billable_metrics?{query}")
        assert response.status_code in (200, 422), query
    response = await seeded.client.get("/api/v1/features?search_term=%00")
    assert response.status_code in (200, 422)


async def test_unknown_fields_are_ignored_as_lago_does(seeded):
    tax = await seeded.ok("POST", "/api/v1/taxes", {"tax": {"name": "T", "code": "ignored", "rate": "1",
                                                            "favourite_colour": "blue"}, "extra_root": 1})
    assert "favourite_colour" not in tax["tax"]


async def test_openapi_documents_every_route_with_models_and_errors(catalog):
    spec = (await catalog.client().get("/openapi.json")).json()
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
                  if path.startswith("/api/v1")]
    assert len(operations) == 65  # with evaluate_expression, GET/PUT /organizations and four billing-entity routes
    for path, method, op in operations:
        assert "200" in op["responses"], (method, path)
        assert "$ref" in json.dumps(op["responses"]["200"]), (method, path)
        assert {"401", "403"} <= set(op["responses"]), (method, path)
        if method in ("post", "put", "patch"):
            assert "422" in op["responses"], (method, path)
    schemas = spec["components"]["schemas"]
    assert {"Plan", "PlanVersion", "Charge", "BillableMetric", "Coupon", "Tax", "AddOn", "Feature",
            "ValidationErrorBody"} <= set(schemas)
    assert (await catalog.client().get("/docs")).status_code == 200
