"""From another service's outbox to a real local receiver, verified the way independent receivers verify."""

import json
import uuid

from aiokafka import AIOKafkaProducer

from invora.events.envelope import EventEnvelope


def _lower(headers: dict) -> dict:
    return {k.lower(): v for k, v in headers.items()}


async def test_event_from_another_services_outbox_arrives_signed_for_every_verifier(
    notifications, producer, receivers, kit
):
    hmac_receiver, jwt_receiver = await receivers(), await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    hmac_endpoint = await kit.create_endpoint(client, hmac_receiver.url + "/hmac", signature_algo="hmac")
    jwt_endpoint = await kit.create_endpoint(client, jwt_receiver.url + "/jwt", signature_algo="jwt")
    public_key = await kit.public_key_pem(client)
    invoice = {"lago_id": str(uuid.uuid4()), "number": "INV-001", "total_amount_cents": 1999, "note": "café <&>"}

    event = await producer.emit(org, "invoice.finalized", data={"invoice": invoice}, correlation_id="corr-123")

    (hmac_request,) = await hmac_receiver.wait_for(1)
    (jwt_request,) = await jwt_receiver.wait_for(1)
    hmac_payload = kit.verify_request(hmac_request, secret=hmac_endpoint["secret"], algo="hmac")
    jwt_payload = kit.verify_request(jwt_request, secret=jwt_endpoint["secret"], algo="jwt", public_key=public_key)
    assert hmac_payload == jwt_payload
    assert list(hmac_payload)[:4] == ["webhook_type", "object_type", "organization_id", "invoice"]  # Lago's order
    assert hmac_payload == {
        "webhook_type": "invoice.finalized", "object_type": "invoice", "organization_id": str(org),
        "invoice": invoice, "event_id": str(event.id), "occurred_at": hmac_payload["occurred_at"],
        "sequence": event.sequence, "correlation_id": "corr-123",
    }
    assert hmac_request.path == "/hmac" and hmac_request.method == "POST"
    assert hmac_request.headers["Content-Type"] == "application/json"
    assert _lower(hmac_request.headers)["x-correlation-id"] == "corr-123"
    # webhook-id: the event (same for every endpoint); X-Lago-Unique-Key: the delivery (one per endpoint)
    assert hmac_request.headers["webhook-id"] == jwt_request.headers["webhook-id"] == str(event.id)
    hmac_delivery = await kit.delivery_of(client, hmac_endpoint["lago_id"], event.id)
    jwt_delivery = await kit.delivery_of(client, jwt_endpoint["lago_id"], event.id)
    assert hmac_request.headers["X-Lago-Unique-Key"] == hmac_delivery["lago_id"]
    assert jwt_request.headers["X-Lago-Unique-Key"] == jwt_delivery["lago_id"] != hmac_delivery["lago_id"]

    detail = await kit.wait_for_delivery(client, hmac_delivery["lago_id"], lambda d: d["status"] == "succeeded")
    assert detail["payload"] == hmac_payload and detail["webhook_type"] == "invoice.finalized"
    assert detail["object_type"] == "invoice" and detail["http_status"] == 200 and detail["retries"] == 0
    (attempt,) = detail["attempts"]
    assert attempt["status_code"] == 200 and attempt["error_class"] is None and attempt["attempt_number"] == 1
    assert attempt["webhook_url"] == hmac_receiver.url + "/hmac" and attempt["duration_ms"] >= 0


async def test_unwrapped_data_and_lago_object_names(notifications, producer, receivers, kit):
    receiver = await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    await producer.emit(org, "customer.created", data={"external_id": "c1", "name": "Ada"})
    await producer.emit(org, "alert.triggered", data={"lago_alert_id": "a1"}, aggregate_type="alert")
    requests = await receiver.wait_for(2)
    bodies = {b["webhook_type"]: b for b in (kit.verify_request(r, secret=endpoint["secret"]) for r in requests)}
    assert bodies["customer.created"]["customer"] == {"external_id": "c1", "name": "Ada"}
    assert bodies["alert.triggered"]["object_type"] == "triggered_alert"
    assert bodies["alert.triggered"]["triggered_alert"] == {"lago_alert_id": "a1"}


async def test_webhook_test_goes_through_the_event_path_to_that_endpoint_only(
    notifications, receivers, kit, wait_for_event
):
    target, bystander = await receivers(), await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, target.url, signature_algo="hmac", event_types=["invoice.created"])
    await kit.create_endpoint(client, bystander.url, signature_algo="hmac")

    response = await client.post(f"/api/v1/webhook_endpoints/{endpoint['lago_id']}/test")
    assert response.status_code == 200, response.text
    event_id = response.json()["webhook_test"]["event_id"]
    published = await wait_for_event("invora.webhook_endpoint", lambda e: str(e.id) == event_id)
    assert published.type == "webhook.test" and published.organization_id == org

    (request,) = await target.wait_for(1)
    payload = kit.verify_request(request, secret=endpoint["secret"])
    assert payload["webhook_type"] == "webhook.test" and payload["object_type"] == "webhook_endpoint"
    assert payload["webhook_endpoint"]["lago_id"] == endpoint["lago_id"] and "secret" not in payload["webhook_endpoint"]
    await kit.delivery_of(client, endpoint["lago_id"], event_id)
    assert bystander.requests == []


async def test_a_redelivered_event_is_sent_once(notifications, receivers, kit, invora_kafka):
    receiver = await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    envelope = EventEnvelope(type="invoice.voided", source="test", organization_id=org, aggregate_type="invoice",
                             aggregate_id="inv_dup", sequence=1, data={"lago_id": "inv_dup"})
    kafka = AIOKafkaProducer(bootstrap_servers=invora_kafka)
    await kafka.start()
    try:
        for _ in range(3):  # at-least-once: the broker hands the consumer the same event again
            await kafka.send_and_wait(envelope.topic, envelope.model_dump_json().encode(), key=b"inv_dup")
    finally:
        await kafka.stop()
    await receiver.wait_for(1)
    await kit.delivery_of(client, endpoint["lago_id"], envelope.id)
    await notifications.app.state.delivery_worker.idle()
    rows = await kit.fetch_all(notifications.database, "SELECT count(*) AS n FROM webhook_deliveries d "
                               "JOIN webhook_messages m ON m.id = d.message_id WHERE m.event_id = :e", e=envelope.id)
    assert rows[0]["n"] == 1
    assert len(receiver.requests) == 1
    assert json.loads(receiver.requests[0].body)["event_id"] == str(envelope.id)
