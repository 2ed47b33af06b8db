"""The rules every route applies to what it reads (issue 11 items 4, 5 and "also seen"): body size limits
before parsing, strict JSON (UTF-8, no BOM, no duplicated key, no NaN), and one text rule for every string
of a body or a query string, whatever the field's schema says. Each refusal changes nothing."""

from __future__ import annotations

import json
import uuid
from http import HTTPStatus

import example_service as example
import pytest

WIDGETS = "/api/v1/widgets"
SLOW_WIDGETS = "/api/v1/_test/slow_widgets"
MiB = 1024 * 1024


@pytest.fixture
def service(shared_example):
    return shared_example


def _widget(name: str = "W", code: str = "w1") -> bytes:
    return json.dumps({"widget": {"code": code, "name": name}}).encode()


async def _nothing_written(service, org) -> bool:
    return await example.count_rows(service.database, "widgets", "organization_id = :org", org=org) == 0


# -- body size (item 5) -------------------------------------------------------------------------------------


async def test_a_declared_oversized_body_is_413_with_lago_body(service):
    org = uuid.uuid4()
    body = _widget(name="x" * (MiB + 10))
    response = await service.client(org).post(WIDGETS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"status": 413, "error": HTTPStatus(413).phrase, "code": "payload_too_large"}
    assert await _nothing_written(service, org)


async def test_a_streamed_body_without_content_length_is_cut_off_as_it_arrives(service, monkeypatch):
    import invora.web.body_limit as body_limit

    monkeypatch.setattr(body_limit, "DRAIN_BYTES", 512 * 1024)  # what is read (and dropped) past the limit
    org = uuid.uuid4()
    chunks_sent = 0

    async def stream():
        nonlocal chunks_sent
        yield b'{"widget": {"code": "w1", "name": "'
        for _ in range(64):  # 4 MiB in 64 KiB chunks
            chunks_sent += 1
            yield b"x" * 65536
        yield b'"}}'

    response = await service.client(org).post(WIDGETS, content=stream(),
                                               headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert chunks_sent <= 26  # refused once past 1 MiB (+ 512 KiB dropped unread), never read whole
    assert await _nothing_written(service, org)


async def test_a_body_under_the_limit_passes_and_a_route_may_take_more(service):
    org = uuid.uuid4()
    client = service.client(org)
    # 1.5 MiB of ignored fields: above the default, under the slow route's own 3 MiB
    body = json.dumps({"widget": {"code": "w1", "name": "W", "padding": "p" * (3 * MiB // 2)}}).encode()
    headers = {"content-type": "application/json"}
    assert (await client.post(WIDGETS, content=body, headers=headers)).status_code == 413
    response = await client.post(SLOW_WIDGETS, params={"delay": 0}, content=body, headers=headers)
    assert response.status_code == 200, response.text
    too_big = json.dumps({"widget": {"code": "w2", "name": "W", "padding": "p" * (3 * MiB + 1)}}).encode()
    assert (await client.post(SLOW_WIDGETS, params={"delay": 0}, content=too_big, headers=headers)).status_code == 413


async def test_an_oversized_body_with_an_idempotency_key_is_413_and_stores_no_key(service):
    org = uuid.uuid4()
    response = await service.client(org).post(WIDGETS, content=_widget(name="x" * (2 * MiB)), headers={
        "content-type": "application/json", "Idempotency-Key": "big"})
    assert response.status_code == 413
    assert await example.count_rows(service.database, "idempotency_keys", "organization_id = :org", org=org) == 0


# -- strict JSON ("also seen") ------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"widget": {"code": "a", "name": "W"}, "widget": {"code": "b", "name": "W"}}', "duplicated key"),
    (b'{"widget": {"code": "a", "name": "W", "name": "X"}}', "duplicated key"),
    (b"\xef\xbb\xbf" + _widget(), "byte order mark"),
    (_widget().decode().encode("utf-16"), "UTF-8"),
    (_widget().decode().encode("utf-16-le"), "UTF-8"),
    (_widget().decode().encode("utf-32-be"), "UTF-8"),
    (b'{"widget": {"code": "a", "name": "W", "n": NaN}}', "NaN"),
    (b'{"widget": {"code": "a", "name": "\xff"}}', "UTF-8"),
])
async def test_json_that_two_parsers_could_read_differently_is_400(service, body, reason):
    org = uuid.uuid4()
    response = await service.client(org).post(WIDGETS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_json"
    assert reason in response.json()["error"]
    assert await _nothing_written(service, org)


# -- one text rule for every string (item 4) ----------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    (b'{"widget": {"code": "w1", "name": "a\\u0000b"}}', "name"),  # `name` is a plain `str` in its schema
    (b'{"widget": {"code": "w1", "name": "\\ud800"}}', "name"),
])
async def test_nul_or_a_lone_surrogate_anywhere_in_a_body_is_a_field_level_422(service, body, field):
    org = uuid.uuid4()
    response = await service.client(org).post(WIDGETS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error_details"] == {field: ["invalid_characters"]}
    assert await _nothing_written(service, org)


async def test_nul_in_an_ignored_unknown_field_is_left_alone(service):
    """Unknown fields are ignored (Lago): nothing of them is stored, so their characters do not matter."""
    org = uuid.uuid4()
    body = b'{"widget": {"code": "w1", "name": "W", "extra": {"k\\u0000": "\\u0000"}}, "\\u0000": 1}'
    response = await service.client(org).post(WIDGETS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


async def test_escapes_that_are_not_unstorable_pass(service):
    org = uuid.uuid4()
    body = b'{"widget": {"code": "w1", "name": "\\\\u0000 \\ud83d\\ude00"}}'  # a literal backslash-u, an emoji
    response = await service.client(org).post(WIDGETS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["widget"]["name"] == "\\u0000 \U0001f600"


async def test_nul_in_a_query_parameter_is_a_field_level_422_and_in_a_path_404(service):
    client = service.client(uuid.uuid4())
    response = await client.get(WIDGETS, params={"page": "\x00"})
    assert response.status_code == 422
    assert response.json()["error_details"] == {"page": ["invalid_characters"]}
    response = await client.get(f"{WIDGETS}?unknown=%00")
    assert response.status_code == 422
    assert response.json()["error_details"] == {"unknown": ["invalid_characters"]}
    assert (await client.get("/api/v1/_test/errors/%00")).status_code == 404


async def test_after_a_refusal_the_connection_is_kept(service):
    """No 500 on bad input: the refusals above are ordinary answers (an ASGI server drops keep-alive after 500)."""
    client = service.client(uuid.uuid4())
    for _ in range(3):
        response = await client.post(WIDGETS, content=b'{"widget": {"code": "\\u0000", "name": "W"}}',
                                     headers={"content-type": "application/json"})
        assert response.status_code == 422
    assert (await client.get(WIDGETS)).status_code == 200
