"""Retries by the clock (never by sleeping): schedule and jitter, 5xx then 2xx, 429 + Retry-After, 410, 3xx,
manual retry and recovery, the 5-day disable rule."""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from notifications.delivery_worker.schedule import clamp_retry_after, next_delay, parse_retry_after
from notifications.settings import DEFAULT_RETRY_SCHEDULE


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_schedule_is_immediate_then_5s_5m_30m_2h_5h_10h_14h_20h_24h():
    assert DEFAULT_RETRY_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    rng = random.Random(7)
    assert [next_delay(DEFAULT_RETRY_SCHEDULE, n, 0.0, rng) for n in range(11)] == [
        0.0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400, None]


def test_jitter_stays_within_twenty_percent_and_spreads():
    rng = random.Random(1)
    for attempts_made, base in enumerate(DEFAULT_RETRY_SCHEDULE):
        draws = [next_delay(DEFAULT_RETRY_SCHEDULE, attempts_made, 0.2, rng) for _ in range(2000)]
        if base == 0:
            assert set(draws) == {0.0}  # "immediately" has no jitter
            continue
        assert all(0.8 * base <= d <= 1.2 * base for d in draws)
        assert min(draws) < 0.83 * base and max(draws) > 1.17 * base  # it does use the whole band


def test_retry_after_parsing_and_clamping():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Thu, 01 Jan 2026 00:02:00 GMT", now) == 120
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert clamp_retry_after(0, 86400) == 1 and clamp_retry_after(10**9, 86400) == 86400


async def test_every_attempt_follows_the_schedule_then_the_delivery_fails(notifications, producer, receivers,
                                                                           clock, kit):
    receiver = await receivers()
    receiver.default_status = 500
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    event = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)

    for attempt in range(1, len(DEFAULT_RETRY_SCHEDULE) + 1):
        await receiver.wait_for(attempt)
        detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d, n=attempt: len(d["attempts"]) == n)
        last = detail["attempts"][-1]
        assert last["status_code"] == 500 and last["error_class"] == "http" and last["attempt_number"] == attempt
        if attempt == len(DEFAULT_RETRY_SCHEDULE):
            assert detail["status"] == "failed" and detail["next_attempt_at"] is None
            assert last["next_attempt_at"] is None
            break
        assert detail["status"] == "retrying"
        delay = (_at(detail["next_attempt_at"]) - _at(last["attempted_at"])).total_seconds()
        base = DEFAULT_RETRY_SCHEDULE[attempt]
        assert 0.8 * base <= delay <= 1.2 * base, (attempt, delay)
        clock.advance(delay - 0.5)  # not yet due
        await asyncio.sleep(0.15)
        assert len(receiver.requests) == attempt
        clock.advance(1)
    # nothing more, however long we wait
    clock.advance(days=3)
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == len(DEFAULT_RETRY_SCHEDULE)
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    keys = {r.headers["X-Lago-Unique-Key"] for r in receiver.requests}
    assert ids == {str(event.id)} and keys == {delivery["lago_id"]}  # stable across retries


async def test_500_then_200(notifications, producer, receivers, clock, kit):
    receiver = await receivers()
    receiver.respond(500, b"upstream broke")
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    event = await producer.emit(org, "payment.succeeded")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "retrying")
    clock.advance(6.1)  # 5 s + 20 %
    first, second = await receiver.wait_for(2)
    detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "succeeded")
    assert [a["status_code"] for a in detail["attempts"]] == [500, 200]
    assert detail["attempts"][0]["response_body"] == "upstream broke"
    assert detail["retries"] == 1 and detail["http_status"] == 200 and detail["last_error_class"] is None
    for request in (first, second):
        kit.verify_request(request, secret=endpoint["secret"])
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.headers["X-Lago-Unique-Key"] == second.headers["X-Lago-Unique-Key"]
    assert first.body == second.body


async def test_429_with_retry_after_is_honoured(notifications, producer, receivers, clock, kit):
    receiver = await receivers()
    receiver.respond(429, b"", {"Retry-After": "120"})
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    event = await producer.emit(org, "wallet.updated")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "retrying")
    attempt = detail["attempts"][0]
    assert attempt["status_code"] == 429 and attempt["error_class"] == "http"
    assert _at(detail["next_attempt_at"]) - _at(attempt["attempted_at"]) == timedelta(seconds=120)
    clock.advance(100)  # past the schedule's 5 s, but the receiver asked for 120
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 1
    clock.advance(21)
    await receiver.wait_for(2)
    await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "succeeded")


async def test_a_redirect_is_a_failure_and_is_not_followed(notifications, producer, receivers, clock, kit):
    receiver, elsewhere = await receivers(), await receivers()
    receiver.respond(302, b"", {"Location": elsewhere.url + "/moved"})
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    event = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "retrying")
    assert detail["attempts"][0]["status_code"] == 302 and detail["attempts"][0]["error_class"] == "http"
    assert elsewhere.requests == []


async def test_410_gone_disables_the_endpoint_and_tells_the_others(notifications, producer, receivers, clock, kit):
    gone, other = await receivers(), await receivers()
    gone.default_status = 410
    org = uuid.uuid4()
    client = notifications.client(org)
    gone_endpoint = await kit.create_endpoint(client, gone.url, signature_algo="hmac")
    other_endpoint = await kit.create_endpoint(client, other.url, signature_algo="hmac")
    event = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, gone_endpoint["lago_id"], event.id)
    detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "failed")
    assert detail["attempts"][0]["status_code"] == 410 and detail["next_attempt_at"] is None
    endpoint = (await client.get(f"/api/v1/webhook_endpoints/{gone_endpoint['lago_id']}")).json()["webhook_endpoint"]
    assert endpoint["enabled"] is False and endpoint["disabled_reason"] == "gone"

    requests = await other.wait_for(2)
    bodies = [kit.verify_request(r, secret=other_endpoint["secret"]) for r in requests]
    disabled = next(b for b in bodies if b["webhook_type"] == "webhook_endpoint.disabled")
    assert disabled["object_type"] == "webhook_endpoint"
    assert disabled["webhook_endpoint"]["lago_id"] == gone_endpoint["lago_id"]
    assert disabled["webhook_endpoint"]["disabled_reason"] == "gone"

    await producer.emit(org, "invoice.created")  # a disabled endpoint gets nothing new
    await other.wait_for(3)
    clock.advance(days=2)
    await asyncio.sleep(0.2)
    assert len(gone.requests) == 1


async def test_failing_for_five_days_disables_the_endpoint(notifications, producer, receivers, clock, kit):
    failing, other = await receivers(), await receivers()
    failing.default_status = 503
    org = uuid.uuid4()
    client = notifications.client(org)
    failing_endpoint = await kit.create_endpoint(client, failing.url, signature_algo="hmac")
    other_endpoint = await kit.create_endpoint(client, other.url, signature_algo="hmac",
                                               event_types=["webhook_endpoint.disabled"])
    first = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, failing_endpoint["lago_id"], first.id)
    await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "retrying")
    clock.advance(days=4)
    await failing.wait_for(2)
    await asyncio.sleep(0.2)
    state = (await client.get(f"/api/v1/webhook_endpoints/{failing_endpoint['lago_id']}")).json()["webhook_endpoint"]
    assert state["enabled"] is True  # four days of failures: still enabled
    clock.advance(days=1, seconds=10)
    second = await producer.emit(org, "invoice.created")
    (notice,) = await other.wait_for(1)
    body = kit.verify_request(notice, secret=other_endpoint["secret"])
    assert body["webhook_type"] == "webhook_endpoint.disabled"
    assert body["webhook_endpoint"]["lago_id"] == failing_endpoint["lago_id"]
    assert body["webhook_endpoint"]["disabled_reason"] == "failing"
    state = (await client.get(f"/api/v1/webhook_endpoints/{failing_endpoint['lago_id']}")).json()["webhook_endpoint"]
    assert state["enabled"] is False and state["disabled_reason"] == "failing"
    await notifications.app.state.delivery_worker.idle()
    rows = await kit.fetch_all(notifications.database, "SELECT d.status, m.event_id FROM webhook_deliveries d "
                               "JOIN webhook_messages m ON m.id = d.message_id WHERE d.endpoint_id = :e",
                               e=uuid.UUID(failing_endpoint["lago_id"]))
    # the second event either found the endpoint disabled, or its delivery was failed by the disable
    assert first.id in {r["event_id"] for r in rows} and {r["event_id"] for r in rows} <= {first.id, second.id}
    assert {r["status"] for r in rows} == {"failed"}


async def test_a_success_resets_the_failing_clock(notifications, producer, receivers, clock, kit):
    receiver = await receivers()
    receiver.respond(500)
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    event = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "retrying")
    clock.advance(6.1)
    await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "succeeded")
    rows = await kit.fetch_all(notifications.database, "SELECT failing_since FROM webhook_endpoints WHERE id = :i",
                               i=uuid.UUID(endpoint["lago_id"]))
    assert rows[0]["failing_since"] is None


async def test_manual_retry_and_recovery(notifications, producer, receivers, clock, kit):
    receiver = await receivers()
    receiver.default_status = 410
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    lago_id = endpoint["lago_id"]
    events = [await producer.emit(org, "invoice.created") for _ in range(2)]
    deliveries = [await kit.delivery_of(client, lago_id, e.id) for e in events]
    for d in deliveries:
        await kit.wait_for_delivery(client, d["lago_id"], lambda x: x["status"] == "failed")

    receiver.default_status = 200
    (await client.put(f"/api/v1/webhook_endpoints/{lago_id}", json={"webhook_endpoint": {"enabled": True}}))
    seen = len(receiver.requests)
    response = await client.post(f"/api/v1/webhooks/{deliveries[0]['lago_id']}/retry")
    assert response.status_code == 200 and response.json()["webhook"]["status"] == "retrying"
    await receiver.wait_for(seen + 1)
    await kit.wait_for_delivery(client, deliveries[0]["lago_id"], lambda x: x["status"] == "succeeded")

    since = (clock.now() - timedelta(minutes=1)).isoformat()
    response = await client.post(f"/api/v1/webhook_endpoints/{lago_id}/recover", params={"since": since})
    assert response.status_code == 200, response.text
    assert response.json()["recovery"]["requeued_count"] == 1  # only the one still failed
    await kit.wait_for_delivery(client, deliveries[1]["lago_id"], lambda x: x["status"] == "succeeded")
    assert (await client.post(f"/api/v1/webhooks/{uuid.uuid4()}/retry")).status_code == 404


@pytest.mark.parametrize("status", [400, 404])
async def test_other_client_errors_are_retried_too(notifications, producer, receivers, clock, kit, status):
    receiver = await receivers()
    receiver.respond(status)
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    event = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "retrying")
    clock.advance(7)
    await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "succeeded")
