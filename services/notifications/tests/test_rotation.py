"""Secret rotation: both signatures during the overlap, then only the new one."""

import uuid

import pytest
import standardwebhooks


def _signatures(request) -> list[str]:
    return request.headers["webhook-signature"].split(" ")


def _verifies(secret: str, request) -> bool:
    try:
        standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


async def test_rotation_signs_with_both_secrets_then_only_the_new(notifications, producer, receivers, clock, kit):
    receiver = await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    old = endpoint["secret"]

    await producer.emit(org, "invoice.created")
    (before,) = await receiver.wait_for(1)
    assert len(_signatures(before)) == 1 and _verifies(old, before)

    response = await client.post(f"/api/v1/webhook_endpoints/{endpoint['lago_id']}/rotate_secret")
    assert response.status_code == 200, response.text
    rotated = response.json()["webhook_endpoint"]
    new = rotated["secret"]
    assert new != old and new.startswith("whsec_") and rotated["previous_secret_expires_at"]

    await producer.emit(org, "invoice.created")
    during = (await receiver.wait_for(2))[1]
    assert len(_signatures(during)) == 2
    assert _verifies(new, during) and _verifies(old, during)  # receivers holding either secret keep working
    kit.verify_request(during, secret=new)  # Lago's HMAC uses the current secret

    clock.advance(hours=24, seconds=1)
    await producer.emit(org, "invoice.created")
    after = (await receiver.wait_for(3))[2]
    assert len(_signatures(after)) == 1
    assert _verifies(new, after) and not _verifies(old, after)


async def test_rotation_with_no_overlap_retires_the_old_secret_at_once(notifications, producer, receivers, kit):
    receiver = await receivers()
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo="hmac")
    response = await client.post(f"/api/v1/webhook_endpoints/{endpoint['lago_id']}/rotate_secret",
                                 params={"overlap_hours": 0})
    new = response.json()["webhook_endpoint"]["secret"]
    assert response.json()["webhook_endpoint"]["previous_secret_expires_at"] is None
    await producer.emit(org, "invoice.created")
    (request,) = await receiver.wait_for(1)
    assert _verifies(new, request) and not _verifies(endpoint["secret"], request)


@pytest.mark.parametrize("algo", ["hmac", "jwt"])
async def test_a_pending_retry_is_signed_with_the_secrets_live_at_its_attempt(
    notifications, producer, receivers, clock, kit, algo
):
    receiver = await receivers()
    receiver.respond(500)
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, receiver.url, signature_algo=algo)
    event = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["status"] == "retrying")
    response = await client.post(f"/api/v1/webhook_endpoints/{endpoint['lago_id']}/rotate_secret")
    new = response.json()["webhook_endpoint"]["secret"]
    clock.advance(7)
    retry = (await receiver.wait_for(2))[1]
    kit.verify_request(retry, secret=new, algo=algo, public_key=await kit.public_key_pem(client))
    assert _verifies(endpoint["secret"], retry)
