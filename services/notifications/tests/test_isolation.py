"""Who gets what: event-type filters, organization isolation, and endpoints that cannot slow each other down."""

import asyncio
import json
import time
import uuid

import pytest


def _types(requests) -> list[str]:
    return sorted(json.loads(r.body)["webhook_type"] for r in requests)


async def test_event_type_filters(notifications, producer, receivers, kit):
    everything, invoices, customers, nothing, exact = [await receivers() for _ in range(5)]
    org = uuid.uuid4()
    client = notifications.client(org)
    await kit.create_endpoint(client, everything.url, signature_algo="hmac")  # null: all
    await kit.create_endpoint(client, invoices.url, signature_algo="hmac", event_types=["invoice.*"])
    await kit.create_endpoint(client, customers.url, signature_algo="hmac", event_types=["customer.created"])
    await kit.create_endpoint(client, nothing.url, signature_algo="hmac", event_types=[])
    await kit.create_endpoint(client, exact.url, signature_algo="hmac",
                              event_types=["invoice.voided", "customer.updated"])
    for event_type in ("invoice.created", "invoice.voided", "customer.created", "customer.updated", "plan.created"):
        await producer.emit(org, event_type)

    await everything.wait_for(5)
    await invoices.wait_for(2)
    await customers.wait_for(1)
    await exact.wait_for(2)
    await notifications.app.state.delivery_worker.idle()
    await asyncio.sleep(0.3)  # anything wrongly fanned out would have arrived by now
    assert _types(everything.requests) == ["customer.created", "customer.updated", "invoice.created",
                                           "invoice.voided", "plan.created"]
    assert _types(invoices.requests) == ["invoice.created", "invoice.voided"]
    assert _types(customers.requests) == ["customer.created"]
    assert _types(exact.requests) == ["customer.updated", "invoice.voided"]
    assert nothing.requests == []


async def test_an_organizations_events_reach_only_its_own_endpoints(notifications, producer, receivers, kit):
    mine, theirs = await receivers(), await receivers()
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    endpoint_a = await kit.create_endpoint(notifications.client(org_a), mine.url, signature_algo="hmac")
    await kit.create_endpoint(notifications.client(org_b), theirs.url, signature_algo="hmac")
    event = await producer.emit(org_a, "invoice.created")
    (request,) = await mine.wait_for(1)
    body = kit.verify_request(request, secret=endpoint_a["secret"])
    assert body["organization_id"] == str(org_a)
    await notifications.app.state.delivery_worker.idle()
    await asyncio.sleep(0.3)
    assert theirs.requests == []
    listed = (await notifications.client(org_b).get("/api/v1/webhooks")).json()["webhooks"]
    assert listed == []
    delivery = await kit.delivery_of(notifications.client(org_a), endpoint_a["lago_id"], event.id)
    assert (await notifications.client(org_b).get(f"/api/v1/webhooks/{delivery['lago_id']}")).status_code == 404
    assert (await notifications.client(org_b).post(f"/api/v1/webhooks/{delivery['lago_id']}/retry")).status_code == 404


async def test_delivery_log_filters(notifications, producer, receivers, kit):
    ok, failing = await receivers(), await receivers()
    failing.default_status = 500
    org = uuid.uuid4()
    client = notifications.client(org)
    ok_endpoint = await kit.create_endpoint(client, ok.url, signature_algo="hmac")
    failing_endpoint = await kit.create_endpoint(client, failing.url, signature_algo="hmac")
    created = await producer.emit(org, "invoice.created")
    await producer.emit(org, "customer.created")
    await ok.wait_for(2)
    await failing.wait_for(2)
    await notifications.app.state.delivery_worker.idle()

    async def lago_ids(**params):
        response = await client.get("/api/v1/webhooks", params=params)
        assert response.status_code == 200, response.text
        return [w for w in response.json()["webhooks"]]

    assert len(await lago_ids()) == 4
    by_endpoint = await lago_ids(webhook_endpoint_id=ok_endpoint["lago_id"])
    assert {w["status"] for w in by_endpoint} == {"succeeded"} and len(by_endpoint) == 2
    retrying = await lago_ids(status="retrying")
    assert {w["lago_webhook_endpoint_id"] for w in retrying} == {failing_endpoint["lago_id"]}
    invoices = await lago_ids(webhook_type="invoice.created")
    assert {w["event_id"] for w in invoices} == {str(created.id)} and len(invoices) == 2
    assert await lago_ids(created_before="2000-01-01T00:00:00Z") == []
    assert len(await lago_ids(created_after="2000-01-01T00:00:00Z")) == 4
    assert (await client.get("/api/v1/webhooks", params={"status": "nope"})).status_code == 422
    page = (await client.get("/api/v1/webhooks", params={"per_page": 3, "page": 2})).json()
    assert len(page["webhooks"]) == 1 and page["meta"]["total_count"] == 4 and page["meta"]["prev_page"] == 1


@pytest.fixture(scope="module")
async def small_worker(module_notifications):
    """Two slots per endpoint, four in all, and a short timeout: a hanging endpoint could starve the rest."""
    return await module_notifications(worker_concurrency=4, per_endpoint_concurrency=2, delivery_timeout_seconds=1.0)


async def test_a_hanging_endpoint_times_out_while_another_keeps_receiving(small_worker, producer, receivers, kit):
    hanging, healthy = await receivers(), await receivers()
    for _ in range(60):
        hanging.respond(200, b"", None, 2.0)  # answers after the 1 s timeout
    org = uuid.uuid4()
    client = small_worker.client(org)
    hanging_endpoint = await kit.create_endpoint(client, hanging.url, signature_algo="hmac")
    await kit.create_endpoint(client, healthy.url, signature_algo="hmac")

    started = time.monotonic()
    events = [await producer.emit(org, "invoice.created") for _ in range(16)]
    await healthy.wait_for(16, timeout=15)
    healthy_done = time.monotonic() - started
    # the hanging endpoint gets 2 of the 4 slots and needs 1 s per attempt: 16 attempts take 8 s or more. The
    # healthy one was served alongside, not behind it: it is done while the other is still timing out.
    timed_out = await kit.fetch_all(
        small_worker.database,
        "SELECT count(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
        "WHERE d.endpoint_id = :e", e=uuid.UUID(hanging_endpoint["lago_id"]),
    )
    assert timed_out[0]["n"] < 16, (timed_out, healthy_done)
    assert healthy_done < 8.0, healthy_done

    delivery = await kit.delivery_of(client, hanging_endpoint["lago_id"], events[0].id)
    detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["attempts"])
    attempt = detail["attempts"][0]
    assert attempt["error_class"] == "timeout" and attempt["status_code"] is None
    assert 900 <= attempt["duration_ms"] < 2000
    assert detail["status"] == "retrying"


async def test_a_slow_endpoints_backlog_is_delivered_in_full(small_worker, producer, receivers, kit):
    """At its cap its rows fall below the claims' search floor; as slots free up they are caught up."""
    slow, healthy = await receivers(), await receivers()
    for _ in range(24):
        slow.respond(200, b"", None, 0.25)
    org = uuid.uuid4()
    client = small_worker.client(org)
    slow_id = uuid.UUID((await kit.create_endpoint(client, slow.url, signature_algo="hmac"))["lago_id"])
    await kit.create_endpoint(client, healthy.url, signature_algo="hmac")
    events = [await producer.emit(org, "invoice.created") for _ in range(24)]

    await healthy.wait_for(24, timeout=15)
    received = await slow.wait_for(24, timeout=30)  # two at a time, 0.25 s each: about 3 s
    assert sorted(r.headers["webhook-id"] for r in received) == sorted(str(e.id) for e in events)
    floor = small_worker.app.state.delivery_worker.scan_floor
    await kit.wait_until(lambda: slow_id not in floor.excluded, message="caught up: none of its rows below the floor")


async def test_rate_limit_spaces_requests(notifications, producer, receivers, kit):
    receiver = await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    await kit.create_endpoint(client, receiver.url, signature_algo="hmac", rate_limit_per_second=10)
    started = time.monotonic()
    for _ in range(25):
        await producer.emit(org, "invoice.created")
    await receiver.wait_for(25, timeout=15)
    elapsed = time.monotonic() - started
    # a bucket of 10 then 10/s: the last of 25 cannot arrive before ~1.5 s
    assert elapsed >= 1.3, elapsed


async def test_a_paused_endpoint_gets_nothing_until_resumed(notifications, producer, receivers, kit):
    receiver, witness = await receivers(), await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    await kit.create_endpoint(client, witness.url, signature_algo="hmac")
    await client.put(f"/api/v1/webhook_endpoints/{endpoint['lago_id']}", json={"webhook_endpoint": {"enabled": False}})
    await producer.emit(org, "invoice.created")
    await witness.wait_for(1)
    await notifications.app.state.delivery_worker.idle()
    assert receiver.requests == []
    await client.put(f"/api/v1/webhook_endpoints/{endpoint['lago_id']}", json={"webhook_endpoint": {"enabled": True}})
    await producer.emit(org, "invoice.voided")
    (request,) = await receiver.wait_for(1)
    assert json.loads(request.body)["webhook_type"] == "invoice.voided"
