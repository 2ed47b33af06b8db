"""Events breaking the fan-out's contract, sent through the real broker: rejected, and the partitions move on.

Each bad message is a valid envelope whose content the fan-out can never store or send (a
correlation id longer than its column, a sequence beyond a bigint, `NaN` in the data, a lone
surrogate). One of them is put on every partition of the topic ahead of valid events; before
the fan-out had a `rejected` path, the first one failed its batch forever and every later
event of that partition (any tenant's) waited behind it.
"""

import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from invora.events.envelope import EventEnvelope
from invora.observability.metrics import CONSUMER_PROCESSED

TOPIC = "invora.invoice"


def _bad_messages(org: uuid.UUID) -> list[tuple[uuid.UUID, bytes]]:
    """(event id, message value) of envelopes that break the contract in different ways."""

    def envelope(**overrides) -> dict:
        event = EventEnvelope(type="invoice.finalized", source="elsewhere", organization_id=org,
                              aggregate_type="invoice", aggregate_id=str(uuid.uuid4()), sequence=1,
                              data={"invoice": {"lago_id": str(uuid.uuid4())}})
        return {**json.loads(event.model_dump_json()), **overrides}

    too_long = envelope(correlation_id="c" * 300)  # a valid envelope; the column holds 200
    beyond_bigint = envelope(sequence=2**63)
    not_a_number = envelope()
    surrogate = envelope()
    values = [
        json.dumps(too_long).encode(),
        json.dumps(beyond_bigint).encode(),
        # Python's json reads `NaN`; receivers' JSON parsers refuse it
        json.dumps(not_a_number).replace('"data": {', '"data": {"ratio": NaN, ', 1).encode(),
        # `\ud800` is valid JSON text but no UTF-8 string: PostgreSQL cannot store it
        json.dumps(surrogate).replace('"data": {', '"data": {"name": "\\ud800", ', 1).encode(),
    ]
    ids = [uuid.UUID(e["id"]) for e in (too_long, beyond_bigint, not_a_number, surrogate)]
    return list(zip(ids, values, strict=True))


@pytest.fixture
async def raw_producer(invora_kafka: str):
    producer = AIOKafkaProducer(bootstrap_servers=invora_kafka, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def _rejected(consumer_name: str) -> float:
    return CONSUMER_PROCESSED.labels("notifications", consumer_name, "rejected")._value.get()  # noqa: SLF001


async def test_a_payload_breaking_the_contract_is_rejected_and_later_events_are_delivered(
    notifications, producer, receivers, raw_producer, kit
):
    receiver = await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    consumer_name = notifications.app.state.runtime.settings.consumer_name
    rejected_before = _rejected(consumer_name)

    # a bad message at the head of every partition's remaining backlog, then valid events behind them
    bad: list[uuid.UUID] = []
    for partition in sorted(await raw_producer.partitions_for(TOPIC)):
        for event_id, value in _bad_messages(org):
            await raw_producer.send_and_wait(TOPIC, value=value, key=str(event_id).encode(), partition=partition)
            bad.append(event_id)
    good = [await producer.emit(org, "invoice.finalized", aggregate_type="invoice") for _ in range(6)]

    requests = await receiver.wait_for(len(good), timeout=30)
    delivered = {kit.verify_request(r, secret=endpoint["secret"])["event_id"] for r in requests}
    assert delivered == {str(e.id) for e in good}

    # every bad event was rejected once and recorded as handled (a redelivery will not retry it);
    # none of them left a message, a delivery or a request behind
    async def all_recorded():
        rows = await kit.fetch_all(notifications.database,
                                   "SELECT event_id FROM inbox_events WHERE consumer = :c AND event_id = ANY(:ids)",
                                   c=consumer_name, ids=bad)
        return len(rows) == len(bad)

    await kit.wait_until(all_recorded, message="the bad events in the inbox")
    assert _rejected(consumer_name) - rejected_before == len(bad)
    stored = await kit.fetch_all(notifications.database,
                                 "SELECT count(*) AS n FROM webhook_messages WHERE event_id = ANY(:ids)", ids=bad)
    assert stored[0]["n"] == 0
    await notifications.app.state.delivery_worker.idle()
    assert len(receiver.requests) == len(good)


def test_a_subscription_webhook_carries_lagos_subscription_object_not_the_event_wrapper():
    """`subscription.*` events hold `{"subscription": {...}, "reason": ...}`: the webhook's `subscription` is
    Lago's object (a Lago receiver reads `body["subscription"]["lago_id"]`), `reason` beside its fields; an
    event whose data is the object alone is sent as it is."""
    from notifications.fanout.payload import build_body

    subscription = {"lago_id": str(uuid.uuid4()), "external_id": "sub_1", "status": "terminated"}
    event = EventEnvelope(type="subscription.terminated", source="subscriptions", organization_id=uuid.uuid4(),
                              aggregate_type="subscription", aggregate_id=str(uuid.uuid4()), sequence=3,
                              data={"subscription": subscription, "reason": "api"})
    object_type, body = build_body(event)
    sent = json.loads(body)
    assert object_type == "subscription" and sent["webhook_type"] == "subscription.terminated"
    assert sent["subscription"] == {**subscription, "reason": "api"}
    invoice = {"lago_id": str(uuid.uuid4()), "status": "finalized"}
    alone = EventEnvelope(type="invoice.finalized", source="invoicing", organization_id=uuid.uuid4(),
                              aggregate_type="invoice", aggregate_id=str(uuid.uuid4()), sequence=1,
                              data={"invoice": invoice})
    assert json.loads(build_body(alone)[1])["invoice"] == invoice
    error = {"lago_invoice_id": invoice["lago_id"], "provider_error": {"message": "declined", "error_code": "x"}}
    failure = EventEnvelope(type="invoice.payment_failure", source="invoicing", organization_id=uuid.uuid4(),
                            aggregate_type="invoice", aggregate_id=str(uuid.uuid4()), sequence=2,
                            data={"payment_provider_invoice_payment_error": error})
    object_type, body = build_body(failure)  # Lago's object name for this webhook
    assert object_type == "payment_provider_invoice_payment_error"
    assert json.loads(body)["payment_provider_invoice_payment_error"] == error
    flat = EventEnvelope(type="webhook.test", source="notifications", organization_id=uuid.uuid4(),
                             aggregate_type="webhook_endpoint", aggregate_id=str(uuid.uuid4()), sequence=1,
                             data={"message": "hello"})
    assert json.loads(build_body(flat)[1])["webhook_endpoint"] == {"message": "hello"}
