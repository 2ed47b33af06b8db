"""Poison items in the notifications service's background loops.

- The fan-out consumer: an event whose fan-out always fails (here the database refuses its message
  rows, through a trigger: a real failure, not a mock) is parked with its error, and an event behind
  it on the same partition is delivered in its normal time.
- The delivery worker: a delivery whose attempt crashes (a bug in sending it) is parked with its error
  and deferred by its back-off; the other deliveries are sent meanwhile.
"""

from __future__ import annotations

import time
import uuid

from prometheus_client import REGISTRY
from sqlalchemy import text


async def test_a_poison_event_is_parked_and_the_partition_moves_on(notifications, producer, receivers, kit):
    receiver = await receivers()
    poisoned_org, healthy_org = uuid.uuid4(), uuid.uuid4()
    endpoint = await kit.create_endpoint(notifications.client(healthy_org), receiver.url, signature_algo="hmac")
    await kit.create_endpoint(notifications.client(poisoned_org), receiver.url, signature_algo="hmac")
    trigger = f"refuse_{poisoned_org.hex[:12]}"
    async with notifications.database.engine.begin() as conn:
        await conn.execute(text(
            f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.organization_id = '{poisoned_org}' THEN RAISE EXCEPTION 'poisoned row'; END IF; "
            "RETURN NEW; END $$"))
        await conn.execute(text(f"CREATE TRIGGER {trigger} BEFORE INSERT ON webhook_messages "
                                f"FOR EACH ROW EXECUTE FUNCTION {trigger}()"))
    try:
        aggregate = str(uuid.uuid4())  # one key: one partition, the poisoned event first
        poisoned = await producer.emit(poisoned_org, "invoice.finalized", aggregate_type="invoice",
                                       aggregate_id=aggregate)
        started = time.monotonic()
        healthy = await producer.emit(healthy_org, "invoice.finalized", aggregate_type="invoice",
                                      aggregate_id=aggregate)
        requests = await receiver.wait_for(1, timeout=15)
        elapsed = time.monotonic() - started
        assert kit.verify_request(requests[0], secret=endpoint["secret"])["event_id"] == str(healthy.id)
        assert elapsed < 5.0, elapsed  # 0.6 s of in-place retries, then it is set aside
        loop = f"consumer:{notifications.app.state.runtime.settings.consumer_name}"

        async def parked():
            rows = await kit.fetch_all(notifications.database,
                                       "SELECT error, attempts, organization_id FROM parked_items "
                                       "WHERE loop = :l AND item_key = :k", l=loop, k=str(poisoned.id))
            return rows[0] if rows else None

        row = await kit.wait_until(parked, message="the poisoned event parked")
        assert "poisoned row" in row["error"] and row["organization_id"] == poisoned_org
        assert REGISTRY.get_sample_value("parked_items", {"service": "notifications", "loop": loop}) >= 1
        assert len(receiver.requests) == 1
    finally:
        async with notifications.database.engine.begin() as conn:
            await conn.execute(text(f"DROP TRIGGER {trigger} ON webhook_messages"))
            await conn.execute(text(f"DROP FUNCTION {trigger}()"))


async def test_a_delivery_whose_attempt_crashes_is_parked_and_the_others_are_sent(
        notifications, producer, receivers, kit, monkeypatch):
    receiver = await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    worker = notifications.app.state.delivery_worker
    poisoned = await producer.emit(org, "invoice.finalized", aggregate_type="invoice")
    send = worker.sender.send

    async def crashing(job):
        if job.event_id == poisoned.id:
            raise RuntimeError("cannot sign this one")
        return await send(job)

    monkeypatch.setattr(worker.sender, "send", crashing)
    started = time.monotonic()
    healthy = [await producer.emit(org, "invoice.finalized", aggregate_type="invoice") for _ in range(3)]
    requests = await receiver.wait_for(3, timeout=25)
    elapsed = time.monotonic() - started
    assert {kit.verify_request(r, secret=endpoint["secret"])["event_id"] for r in requests} == {
        str(e.id) for e in healthy}
    # sent without waiting for the crashed delivery's back-off (30 s): a loaded CI machine may take seconds to
    # fan the events out, so the bound is the back-off, not a latency figure
    assert elapsed < 25.0, elapsed
    delivery = await kit.delivery_of(client, endpoint["lago_id"], poisoned.id)

    async def parked():
        rows = await kit.fetch_all(notifications.database,
                                   "SELECT p.error, p.attempts, d.next_attempt_at, d.updated_at FROM parked_items p "
                                   "JOIN webhook_deliveries d ON d.id::text = p.item_key "
                                   "WHERE p.loop = 'webhook-delivery' AND p.item_key = :k", k=delivery["lago_id"])
        return rows[0] if rows else None

    row = await kit.wait_until(parked, message="the crashed delivery parked")
    assert row["error"] == "RuntimeError: cannot sign this one" and row["attempts"] == 1
    assert (row["next_attempt_at"] - row["updated_at"]).total_seconds() >= 29  # its back-off, not the lease
    assert REGISTRY.get_sample_value("parked_items", {"service": "notifications", "loop": "webhook-delivery"}) >= 1
    assert len(receiver.requests) == 3


async def test_an_outcome_that_cannot_be_recorded_is_parked_and_the_others_are(
        notifications, producer, receivers, kit):
    """The recorder writes outcomes in batches: one outcome the database refuses (a trigger here) must not
    hold the whole batch, and every later one, in memory forever."""
    receiver = await receivers()
    poisoned_org, healthy_org = uuid.uuid4(), uuid.uuid4()
    healthy_client = notifications.client(healthy_org)
    healthy_endpoint = await kit.create_endpoint(healthy_client, receiver.url, signature_algo="hmac")
    poisoned_client = notifications.client(poisoned_org)
    poisoned_endpoint = await kit.create_endpoint(poisoned_client, receiver.url, signature_algo="hmac")
    trigger = f"refuse_attempt_{poisoned_org.hex[:12]}"
    async with notifications.database.engine.begin() as conn:
        await conn.execute(text(
            f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.organization_id = '{poisoned_org}' THEN RAISE EXCEPTION 'poisoned attempt'; END IF; "
            "RETURN NEW; END $$"))
        await conn.execute(text(f"CREATE TRIGGER {trigger} BEFORE INSERT ON webhook_attempts "
                                f"FOR EACH ROW EXECUTE FUNCTION {trigger}()"))
    try:
        poisoned = await producer.emit(poisoned_org, "invoice.finalized", aggregate_type="invoice")
        healthy = []
        for _ in range(5):
            healthy.append(await producer.emit(healthy_org, "invoice.finalized", aggregate_type="invoice"))
        for event in healthy:  # every healthy outcome recorded: the delivery shows it succeeded
            delivery = await kit.delivery_of(healthy_client, healthy_endpoint["lago_id"], event.id)
            await kit.wait_for_delivery(healthy_client, delivery["lago_id"], lambda d: d["status"] == "succeeded")
        bad = await kit.delivery_of(poisoned_client, poisoned_endpoint["lago_id"], poisoned.id)

        async def parked():
            rows = await kit.fetch_all(notifications.database,
                                       "SELECT error FROM parked_items WHERE loop = 'webhook-delivery' "
                                       "AND item_key = :k", k=bad["lago_id"])
            return rows[0] if rows else None

        row = await kit.wait_until(parked, message="the unrecordable outcome parked")
        assert "poisoned attempt" in row["error"]
        assert not notifications.app.state.delivery_worker.recorder._pending  # noqa: SLF001 - nothing held back
    finally:
        async with notifications.database.engine.begin() as conn:
            await conn.execute(text(f"DROP TRIGGER {trigger} ON webhook_attempts"))
            await conn.execute(text(f"DROP FUNCTION {trigger}()"))
