"""`Idempotency-Key` on POST: Stripe's rules (see the docstring of `invora.web.idempotency`)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import example_service as example
import httpx
import pytest
from sqlalchemy import text

WIDGETS = "/api/v1/widgets"
SLOW_WIDGETS = "/api/v1/_test/slow_widgets"
ADMIN_WIDGETS = "/api/v1/_test/admin_widgets"


def _body(code: str = "w1", **extra) -> dict:
    return {"widget": {"code": code, "name": "W", **extra}}


async def _counts(service, org) -> tuple[int, int]:
    """(widgets, outbox rows) of one organization."""
    db = service.database
    widgets = await example.count_rows(db, "widgets", "organization_id = :org", org=org)
    events = await example.count_rows(db, "outbox_events", "envelope->>'organization_id' = :org", org=str(org))
    return widgets, events


async def _key_rows(service, org) -> list:
    async with service.database.sessionmaker() as session:
        return (await session.execute(text(
            "SELECT key, status, response_status, expires_at - now() AS remaining, expires_at - created_at AS ttl "
            "FROM idempotency_keys WHERE organization_id = :org ORDER BY key"), {"org": org})).all()


@pytest.fixture
def service(shared_example):
    return shared_example


async def test_retry_replays_the_first_response_byte_for_byte(service):
    org = uuid.uuid4()
    client = service.client(org)
    headers = {"Idempotency-Key": "create-w1"}
    first = await client.post(WIDGETS, json=_body(), headers=headers)
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers

    replays = [await client.post(WIDGETS, json=_body(), headers={**headers, "X-Request-Id": f"retry-{i}"})
               for i in range(2)]
    for i, replay in enumerate(replays):
        assert replay.status_code == 200
        assert replay.content == first.content
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.headers["content-type"] == first.headers["content-type"]
        # the replay is its own exchange: its own request id, not the stored one
        assert replay.headers["x-request-id"] == f"retry-{i}"
    assert await _counts(service, org) == (1, 1)
    [row] = await _key_rows(service, org)
    assert (row.status, row.response_status) == ("completed", 200)


async def test_same_key_with_a_different_request_is_422(service):
    org = uuid.uuid4()
    client = service.client(org)
    headers = {"Idempotency-Key": "k"}
    assert (await client.post(WIDGETS, json=_body("a"), headers=headers)).status_code == 200

    different_body = await client.post(WIDGETS, json=_body("b"), headers=headers)
    different_path = await client.post(SLOW_WIDGETS, params={"delay": 0}, json=_body("a"), headers=headers)
    for response in (different_body, different_path):
        assert response.status_code == 422
        assert response.json() == {
            "status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
            "error_details": {"idempotency_key": ["already_used_with_different_request"]},
        }
    assert await _counts(service, org) == (1, 1)


async def test_concurrent_requests_with_one_key_execute_once(service):
    org = uuid.uuid4()
    client = service.client(org)
    headers = {"Idempotency-Key": "race"}

    async def attempt() -> httpx.Response:
        return await client.post(SLOW_WIDGETS, params={"delay": 0.5}, json=_body("race"), headers=headers)

    responses = await asyncio.gather(*(attempt() for _ in range(10)))
    executed = [r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers]
    replayed = [r for r in responses if r.status_code == 200 and "idempotent-replayed" in r.headers]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(executed) == 1, [(r.status_code, r.text) for r in responses]
    assert len(executed) + len(replayed) + len(in_progress) == 10
    assert in_progress, "the requests did not overlap; the test proves nothing"
    assert all(r.json()["code"] == "idempotency_key_in_use" for r in in_progress)
    assert all(r.content == executed[0].content for r in replayed)
    assert await _counts(service, org) == (1, 1)

    later = await attempt()
    assert later.status_code == 200 and later.headers["idempotent-replayed"] == "true"
    assert later.content == executed[0].content


async def test_rejected_request_releases_the_key(service):
    org = uuid.uuid4()
    client = service.client(org)
    headers = {"Idempotency-Key": "fix-and-retry"}

    refused_by_route = await client.post(WIDGETS, json=_body("taken"), headers=headers)
    assert refused_by_route.status_code == 422
    assert refused_by_route.json()["error_details"] == {"code": ["value_already_exist"]}
    assert await _key_rows(service, org) == []

    refused_by_schema = await client.post(WIDGETS, json={"widget": {"code": "w1"}}, headers=headers)
    assert refused_by_schema.status_code == 422
    assert await _key_rows(service, org) == []
    assert await _counts(service, org) == (0, 0)

    corrected = await client.post(WIDGETS, json=_body("w1"), headers=headers)
    assert corrected.status_code == 200 and "idempotent-replayed" not in corrected.headers
    assert await _counts(service, org) == (1, 1)


async def test_keys_are_scoped_per_organization(service):
    first_org, second_org = uuid.uuid4(), uuid.uuid4()
    headers = {"Idempotency-Key": "shared-key"}
    first = await service.client(first_org).post(WIDGETS, json=_body(), headers=headers)
    second = await service.client(second_org).post(WIDGETS, json=_body(), headers=headers)
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in second.headers
    assert first.json()["widget"]["lago_id"] != second.json()["widget"]["lago_id"]
    assert await _counts(service, first_org) == await _counts(service, second_org) == (1, 1)


@pytest.mark.parametrize("roles", [("service",), ("billing_admin",), ("tenant",)])
async def test_a_key_lacking_the_role_is_refused_not_replayed(service, roles):
    """Issue 11 item 2: an admin's stored response (one-time secrets…) never reaches another key of the
    organization; that key's request runs through the route's authorization like any other."""
    org = uuid.uuid4()
    headers = {"Idempotency-Key": "admin-create"}
    first = await service.client(org, ["admin"]).post(f"{ADMIN_WIDGETS}", json=_body(), headers=headers)
    assert first.status_code == 200, first.text
    other = service.client(org, roles, customer_id=uuid.uuid4() if "tenant" in roles else None)
    attempt = await other.post(ADMIN_WIDGETS, json=_body(), headers=headers)
    assert attempt.status_code == 403, attempt.text
    assert "idempotent-replayed" not in attempt.headers
    assert first.json()["widget"]["lago_id"] not in attempt.text
    assert await _counts(service, org) == (1, 1)


async def test_another_key_with_the_same_roles_runs_its_own_request(service):
    """Scoped to the principal (subject, roles, customer), not the organization: two admin keys of one
    organization each get their own execution, and each its own replay."""
    org = uuid.uuid4()
    headers = {"Idempotency-Key": "shared-key"}
    first_key, second_key = service.client(org, ["admin"]), service.client(org, ["admin"])
    first = await first_key.post(WIDGETS, json=_body("a"), headers=headers)
    second = await second_key.post(WIDGETS, json=_body("a"), headers=headers)
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in second.headers
    assert first.json()["widget"]["lago_id"] != second.json()["widget"]["lago_id"]
    replay = await second_key.post(WIDGETS, json=_body("a"), headers=headers)
    assert replay.headers["idempotent-replayed"] == "true" and replay.content == second.content
    assert await _counts(service, org) == (2, 2)


async def test_failure_after_the_write_rolls_back_and_releases_the_key(service, invora_keys):
    org = uuid.uuid4()
    # a real client sees the 500, it does not get the exception raised in its face
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app, raise_app_exceptions=False), base_url="http://example.test",
        headers={"Authorization": f"Bearer {invora_keys.sign(org, ['admin'])}", "Idempotency-Key": "boom"},
    )
    async with client:
        failed = await client.post(WIDGETS, json=_body(fail_after_write=True))
        assert failed.status_code == 500
        assert await _counts(service, org) == (0, 0)
        assert await _key_rows(service, org) == []

        # same key, same request: executed again (and fails again), not a replay of the 500
        again = await client.post(WIDGETS, json=_body(fail_after_write=True))
        assert again.status_code == 500 and "idempotent-replayed" not in again.headers

        retried = await client.post(WIDGETS, json=_body())
        assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers
    assert await _counts(service, org) == (1, 1)


async def test_key_length_limit(service):
    org = uuid.uuid4()
    client = service.client(org)
    too_long = await client.post(WIDGETS, json=_body("a"), headers={"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 422
    assert too_long.json()["error_details"] == {"idempotency_key": ["value_is_invalid"]}
    assert await _counts(service, org) == (0, 0)

    longest = await client.post(WIDGETS, json=_body("b"), headers={"Idempotency-Key": "k" * 255})
    assert longest.status_code == 200
    assert [row.key for row in await _key_rows(service, org)] == ["k" * 255]


async def test_response_is_kept_at_least_24_hours_then_the_key_is_reusable(service):
    org = uuid.uuid4()
    client = service.client(org)
    headers = {"Idempotency-Key": "ttl"}
    first = await client.post(WIDGETS, json=_body("w1"), headers=headers)
    assert first.status_code == 200
    [row] = await _key_rows(service, org)
    assert row.ttl >= timedelta(hours=24)
    assert row.remaining > timedelta(hours=23, minutes=59)

    async def age_key(by: timedelta) -> None:
        async with service.database.sessionmaker() as session:
            await session.execute(text(
                "UPDATE idempotency_keys SET created_at = created_at - make_interval(secs => :by), "
                "expires_at = expires_at - make_interval(secs => :by) WHERE organization_id = :org"),
                {"by": by.total_seconds(), "org": org})
            await session.commit()

    await age_key(timedelta(hours=23, minutes=59))  # a day minus a minute later: still replayed
    assert (await client.post(WIDGETS, json=_body("w1"), headers=headers)).headers["idempotent-replayed"] == "true"

    await age_key(timedelta(minutes=2))  # past its expiry: the key starts afresh, any request may use it
    reused = await client.post(WIDGETS, json=_body("w2"), headers=headers)
    assert reused.status_code == 200 and "idempotent-replayed" not in reused.headers
    assert await _counts(service, org) == (2, 2)


async def test_non_post_requests_ignore_the_header(service):
    org = uuid.uuid4()
    client = service.client(org)
    widget_id = (await client.post(WIDGETS, json=_body())).json()["widget"]["lago_id"]
    headers = {"Idempotency-Key": "not-for-get-or-delete"}

    listed = await client.get(WIDGETS, headers=headers)
    assert listed.status_code == 200 and "idempotent-replayed" not in listed.headers
    first_delete = await client.delete(f"{WIDGETS}/{widget_id}", headers=headers)
    second_delete = await client.delete(f"{WIDGETS}/{widget_id}", headers=headers)
    assert (first_delete.status_code, second_delete.status_code) == (200, 404)
    assert await _key_rows(service, org) == []


async def test_unauthenticated_request_does_not_use_the_key(service):
    org = uuid.uuid4()
    headers = {"Idempotency-Key": "before-login"}
    before = await example.snapshot(service.database)
    refused = await service.client().post(WIDGETS, json=_body(), headers=headers)
    assert refused.status_code == 401
    assert await example.snapshot(service.database) == before

    accepted = await service.client(org).post(WIDGETS, json=_body(), headers=headers)
    assert accepted.status_code == 200 and "idempotent-replayed" not in accepted.headers
