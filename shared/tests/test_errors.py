"""Every error is a Lago error body; bad input changes nothing; request and correlation ids travel."""

from __future__ import annotations

import json
import re
import uuid

import example_service as example
import httpx
import pytest
from sqlalchemy import text

WIDGETS = "/api/v1/widgets"


def _validation_body(details: dict) -> dict:
    return {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors", "error_details": details}


def _missing_param_body(name: str) -> dict:
    return {"status": 400, "error": f"BadRequest: param is missing or the value is empty: {name}",
            "code": "missing_param"}


@pytest.fixture
def service(shared_example):
    return shared_example


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def client(service, org) -> httpx.AsyncClient:
    return service.client(org)


@pytest.fixture
async def nothing_written(service):
    """`assert await nothing_written()`: no table a request could write changed since the test began."""
    before = await example.snapshot(service.database)

    async def check() -> bool:
        return await example.snapshot(service.database) == before

    return check


# -- request validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("widget,details", [
    ({"code": "w1"}, {"name": ["value_is_mandatory"]}),
    ({}, {"code": ["value_is_mandatory"], "name": ["value_is_mandatory"]}),
    ({"code": "w" * 101, "name": ""}, {"code": ["value_is_too_long"], "name": ["value_is_too_short"]}),
    ({"code": 12, "name": "W"}, {"code": ["invalid_type"]}),
    ({"code": "w1", "name": "W", "fail_after_write": "sometimes"}, {"fail_after_write": ["invalid_type"]}),
])
async def test_invalid_fields_inside_the_root_are_422_by_field(service, nothing_written, client, widget, details):
    response = await client.post(WIDGETS, json={"widget": widget})
    assert response.status_code == 422
    assert response.json() == _validation_body(details)
    assert await nothing_written()


@pytest.mark.parametrize("request_kwargs", [
    {"json": {}},
    {"json": {"customer": {"code": "w1", "name": "W"}}},
    {"json": {"widget": None}},
    {"content": b""},
    {},
])
async def test_missing_root_object_is_400(service, nothing_written, client, request_kwargs):
    response = await client.post(WIDGETS, **request_kwargs)
    assert response.status_code == 400, response.text
    assert response.json() == _missing_param_body("widget")
    assert await nothing_written()


@pytest.mark.parametrize("content", [b"{not json", b'{"widget": {"code": "w1",}}', b'{"widget": '])
async def test_invalid_json_is_400(service, nothing_written, client, content):
    response = await client.post(WIDGETS, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"status": 400, "error": "BadRequest: request body is not valid JSON",
                               "code": "invalid_json"}
    assert await nothing_written()


@pytest.mark.parametrize("query,details", [
    ({"per_page": 0}, {"per_page": ["value_is_out_of_range"]}),
    ({"per_page": 1000}, {"per_page": ["value_is_out_of_range"]}),
    ({"page": 0}, {"page": ["value_is_out_of_range"]}),
    ({"page": "two"}, {"page": ["invalid_type"]}),
    ({"page": -1, "per_page": 101}, {"page": ["value_is_out_of_range"], "per_page": ["value_is_out_of_range"]}),
])
async def test_bad_query_parameters_are_422(client, query, details):
    response = await client.get(WIDGETS, params=query)
    assert response.status_code == 422
    assert response.json() == _validation_body(details)


# -- routing -----------------------------------------------------------------------------------------------


async def test_unknown_route_is_404_body(client):
    for path in ("/api/v1/nothing-here", "/api/v2/widgets", "/"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json() == {"status": 404, "error": "Not Found", "code": "not_found"}


async def test_malformed_id_in_path_is_404_not_422(client):
    for bad in ("not-a-uuid", "123", "%20"):
        response = await client.get(f"{WIDGETS}/{bad}")
        assert response.status_code == 404, (bad, response.text)
        assert response.json() == {"status": 404, "error": "Not Found", "code": "not_found"}


async def test_wrong_method_is_405_body(service, nothing_written, client):
    response = await client.put(WIDGETS, json={"widget": {"code": "w1", "name": "W"}})
    assert response.status_code == 405
    assert response.json() == {"status": 405, "error": "Method Not Allowed", "code": "method_not_allowed"}
    assert response.headers["allow"] == "GET, POST"  # every method of the resource, not just the first route's
    assert await nothing_written()


# -- typed errors ------------------------------------------------------------------------------------------


async def test_not_found_carries_the_resource_code(client):
    response = await client.get(f"{WIDGETS}/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "error": "Not Found", "code": "widget_not_found"}


@pytest.mark.parametrize("kind,status,body", [
    ("not_found", 404, {"error": "Not Found", "code": "widget_not_found"}),
    ("bad_request", 400, {"error": "BadRequest: something is off", "code": "bad_request"}),
    ("unauthorized", 401, {"error": "Unauthorized", "code": "unauthorized"}),
    ("forbidden", 403, {"error": "Forbidden", "code": "forbidden"}),
    ("conflict", 409, {"error": "Conflict", "code": "widget_is_locked"}),
    ("payload_too_large", 413, {"error": "Request Entity Too Large", "code": "payload_too_large"}),
    ("validation", 422, {"error": "Unprocessable Entity", "code": "validation_errors",
                         "error_details": {"code": ["value_already_exist"], "name": ["value_is_mandatory"]}}),
    ("too_many_requests", 429, {"error": "Too Many Requests", "code": "too_many_requests"}),
    ("service_unavailable", 503, {"error": "Service Unavailable", "code": "service_unavailable"}),
])
async def test_typed_errors_render_their_status_and_code(client, kind, status, body):
    response = await client.get(f"/api/v1/_test/errors/{kind}")
    assert response.status_code == status
    assert response.json() == {"status": status, **body}


async def test_route_validation_error_writes_nothing(service, nothing_written, client):
    response = await client.post(WIDGETS, json={"widget": {"code": "taken", "name": "W"}})
    assert response.status_code == 422
    assert response.json() == _validation_body({"code": ["value_already_exist"]})
    assert await nothing_written()


async def test_unhandled_exception_is_500_and_commits_nothing(service, nothing_written, invora_keys, org):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app, raise_app_exceptions=False), base_url="http://example.test",
        headers={"Authorization": f"Bearer {invora_keys.sign(org, ['admin'])}"},
    ) as client:
        response = await client.post(WIDGETS, json={"widget": {"code": "w1", "name": "W", "fail_after_write": True}},
                                     headers={"X-Request-Id": "req-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": 500, "error": "Internal Server Error", "code": "internal_error"}
    assert "boom" not in response.text  # no internals leak to the client
    assert response.headers["x-request-id"] == "req-500"  # so the caller can report it
    assert await nothing_written()  # widget, its outbox row and its aggregate sequence all rolled back


# -- request and correlation ids ---------------------------------------------------------------------------


async def test_request_id_is_echoed_when_given(client):
    response = await client.get(WIDGETS, headers={"X-Request-Id": "req-123"})
    assert response.headers["x-request-id"] == "req-123"
    assert response.headers["x-correlation-id"] == "req-123"  # no correlation id given: the request starts one

    both = await client.get(WIDGETS, headers={"X-Request-Id": "req-124", "X-Correlation-Id": "flow-9"})
    assert (both.headers["x-request-id"], both.headers["x-correlation-id"]) == ("req-124", "flow-9")


async def test_request_id_is_generated_when_absent_or_unusable(client):
    plain = [await client.get(WIDGETS) for _ in range(2)]
    unusable = await client.get(WIDGETS, headers={"X-Request-Id": "x" * 500})
    ids = [r.headers["x-request-id"] for r in (*plain, unusable)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
    assert len(set(ids)) == 3
    # errors carry one too
    missing = await client.get(f"{WIDGETS}/{uuid.uuid4()}")
    assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["x-request-id"])


async def _envelope(service, widget_id: str) -> dict:
    async with service.database.sessionmaker() as session:
        raw = (await session.execute(text("SELECT envelope::text FROM outbox_events WHERE message_key = :id"),
                                     {"id": widget_id})).scalar_one()
    return json.loads(raw)


async def test_correlation_id_is_carried_into_the_outbox_envelope(service, client):
    given = await client.post(WIDGETS, json={"widget": {"code": "w1", "name": "W"}},
                              headers={"X-Request-Id": "req-1", "X-Correlation-Id": "checkout-42"})
    assert given.status_code == 200
    envelope = await _envelope(service, given.json()["widget"]["lago_id"])
    assert envelope["correlation_id"] == "checkout-42"

    from_request = await client.post(WIDGETS, json={"widget": {"code": "w2", "name": "W"}},
                                     headers={"X-Request-Id": "req-2"})
    assert (await _envelope(service, from_request.json()["widget"]["lago_id"]))["correlation_id"] == "req-2"

    generated = await client.post(WIDGETS, json={"widget": {"code": "w3", "name": "W"}})
    envelope = await _envelope(service, generated.json()["widget"]["lago_id"])
    assert envelope["correlation_id"] == generated.headers["x-correlation-id"]
    assert envelope["source"] == "example" and envelope["type"] == "widget.created"
