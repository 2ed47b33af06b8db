"""The database is the queue: restarts and crashes lose nothing, and a success is never sent again."""

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import text

from invora.clock import ManualClock


async def test_restart_mid_retry_loses_nothing_and_repeats_no_success(
    start_notifications, migrated_database, producer, receivers, kit
):
    receiver = await receivers()
    receiver.respond(500)
    database_url = migrated_database("notifications")
    first = await start_notifications(database_url=database_url)
    clock = ManualClock()
    first.app.state.runtime.clock = clock
    org = uuid.uuid4()
    client = first.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    event = await producer.emit(org, "subscription.started")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "retrying")
    await start_notifications.stop(first)

    second = await start_notifications(database_url=database_url)
    second.app.state.runtime.clock = ManualClock(clock.now() + timedelta(seconds=7))
    client = second.client(org)
    detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "succeeded")
    assert [a["status_code"] for a in detail["attempts"]] == [500, 200]
    await start_notifications.stop(second)

    # a third instance under another consumer name (a new group: it replays every topic from the start)
    third = await start_notifications(database_url=database_url)
    third.app.state.runtime.clock = ManualClock(clock.now() + timedelta(days=30))
    # same aggregate, so the same partition, right behind the replayed event: the partition is not stuck on it
    later = await producer.emit(org, "subscription.terminated", aggregate_id=event.aggregate_id)
    await receiver.wait_for(3)
    await third.app.state.delivery_worker.idle()
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(event.id), str(event.id), str(later.id)]
    rows = await kit.fetch_all(third.database, "SELECT count(*) AS n FROM webhook_deliveries")
    assert rows[0]["n"] == 2  # the replayed event created nothing: the success was not repeated


async def test_an_attempt_lost_in_a_crash_is_made_again_when_its_lease_runs_out(notifications, clock, receivers, kit):
    """A worker that claimed a delivery and died: the row stays claimed until the lease expires, then is sent."""
    receiver = await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    worker = notifications.app.state.delivery_worker
    lease = notifications.app.state.runtime.settings.worker_lease_seconds
    message_id, delivery_id, event_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = clock.now()
    async with notifications.database.sessionmaker() as session:
        # as a crashed worker leaves it: claimed (attempt counted, lease set), never recorded
        await session.execute(text(
            "INSERT INTO webhook_messages (id, organization_id, event_id, event_type, object_type, aggregate_id, "
            "sequence, payload, occurred_at, created_at) VALUES (:m, :o, :e, 'invoice.created', 'invoice', 'i1', 1, "
            "'{\"webhook_type\":\"invoice.created\"}', :now, :now)"), {"m": message_id, "o": org, "e": event_id,
                                                                       "now": now})
        await session.execute(text(
            "INSERT INTO webhook_deliveries (id, organization_id, message_id, endpoint_id, event_type, status, "
            "attempt_count, next_attempt_at, claim_token, created_at, updated_at) VALUES (:d, :o, :m, :ep, "
            "'invoice.created', 'pending', 1, :lease, :token, :now, :now)"),
            {"d": delivery_id, "o": org, "m": message_id, "ep": uuid.UUID(endpoint["lago_id"]),
             "lease": now + timedelta(seconds=lease), "token": uuid.uuid4(), "now": now})
        await session.commit()
    worker._wake.set()
    await asyncio.sleep(0.3)
    assert receiver.requests == []  # still leased
    clock.advance(lease + 1)
    (request,) = await receiver.wait_for(1)
    assert request.headers["X-Lago-Unique-Key"] == str(delivery_id)
    detail = await kit.wait_for_delivery(client, str(delivery_id), lambda d: d["status"] == "succeeded")
    assert detail["attempts"][0]["attempt_number"] == 2


async def test_two_replicas_share_the_queue_without_sending_twice(
    start_notifications, migrated_database, producer, receivers, kit
):
    receiver = await receivers()
    database_url = migrated_database("notifications")
    # one consumer group, two processes: as two replicas of the service
    group = f"fanout-{uuid.uuid4().hex[:8]}"
    replicas = [await start_notifications(database_url=database_url, consumer_name=group) for _ in range(2)]
    org = uuid.uuid4()
    client = replicas[0].client(org)
    await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    events = await asyncio.gather(*(producer.emit(org, "invoice.created", aggregate_id=f"inv{i}") for i in range(60)))
    # a deadline only: the second replica's join rebalances the group, which takes longer on a busy machine
    await receiver.wait_for(60, timeout=60)
    for replica in replicas:
        await replica.app.state.delivery_worker.idle()
    await asyncio.sleep(0.3)
    keys = [r.headers["X-Lago-Unique-Key"] for r in receiver.requests]
    assert len(keys) == len(set(keys)) == 60
    assert {r.headers["webhook-id"] for r in receiver.requests} == {str(e.id) for e in events}


async def test_rows_committed_long_after_their_stamp_are_sent_at_once(notifications, clock, receivers, kit):
    """A transaction stamps its rows due before it commits (a large fan-out on a busy database: seconds before).
    By then the worker's searches have moved past the stamp; the NOTIFY sent at commit brings them back to it."""
    receiver = await receivers()
    org = uuid.uuid4()
    endpoint = await kit.create_endpoint(notifications.client(org), receiver.url, signature_algo="hmac")
    floor = notifications.app.state.delivery_worker.scan_floor
    floor.full_search_every = 3600.0  # no periodic search from the oldest row to find them by chance
    try:
        floor.reset()
        clock.advance(10)
        await asyncio.sleep(0.3)  # the worker polls every 50 ms: its floor is now 8 s past the stamp below
        stamped = clock.now() - timedelta(seconds=10)
        [delivery_id] = await kit.add_due_deliveries(notifications.database, org, uuid.UUID(endpoint["lago_id"]),
                                                     [stamped], wake=True)
        (request,) = await receiver.wait_for(1, timeout=5)
        assert request.headers["X-Lago-Unique-Key"] == str(delivery_id)
    finally:
        floor.full_search_every = 30.0


async def test_a_retry_recorded_after_it_is_due_is_sent_at_once(notifications, clock, receivers, kit):
    """Outcomes held back (a database outage, a stalled recorder) reach the database after their retry is due,
    when the worker's searches have moved past it; the recorder lowers the floor to it once committed."""
    receiver = await receivers()
    receiver.respond(500)  # the first attempt fails: a retry about 5 s later
    org = uuid.uuid4()
    endpoint = await kit.create_endpoint(notifications.client(org), receiver.url, signature_algo="hmac")
    worker = notifications.app.state.delivery_worker
    floor, recorder = worker.scan_floor, worker.recorder
    floor.full_search_every = 3600.0  # no periodic search from the oldest row to find it by chance
    released = asyncio.Event()
    flush = recorder.flush

    async def held_flush() -> None:
        await released.wait()
        await flush()

    recorder.flush = held_flush
    try:
        floor.reset()
        [delivery_id] = await kit.add_due_deliveries(notifications.database, org, uuid.UUID(endpoint["lago_id"]),
                                                     [clock.now()], wake=True)
        await receiver.wait_for(1, timeout=5)  # failed; its outcome waits in the recorder
        clock.advance(20)  # the retry (about 5 s after the attempt) is due 15 s ago by the time it is written
        await asyncio.sleep(0.3)  # the worker searches meanwhile: its floor passes the retry's time
        assert len(receiver.requests) == 1  # its claim's lease (60 s) still holds it
        released.set()
        second = (await receiver.wait_for(2, timeout=5))[1]
        assert second.headers["X-Lago-Unique-Key"] == str(delivery_id)
    finally:
        recorder.flush = flush
        released.set()
        floor.full_search_every = 30.0
