"""Stripe's webhooks, as localstripe signs and sends them, through our route: verified with the connection's
secret, deduplicated through the inbox, applied through the lifecycle (a late one changes nothing)."""

from __future__ import annotations

import asyncio
import json
import uuid

from payments.payments import charger

CARD_3DS = "4000002500003155"


async def _webhooks_for(receiver, payment_intent: str, event_type: str, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        bodies = [(r, json.loads(r.body)) for r in receiver.requests]
        found = [r for r, body in bodies
                 if body["type"] == event_type and body["data"]["object"]["id"] == payment_intent]
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {event_type} webhook for {payment_intent}")


async def _post(stage, request, *, code: str | None = None, signature: str | None = None):
    headers = {"content-type": "application/json",
               "stripe-signature": signature if signature is not None else request.headers["Stripe-Signature"]}
    client = stage.service.client()
    return await client.post(f"/api/v1/provider_webhooks/stripe/{stage.org}",
                             params={"code": code or stage.provider_code}, content=request.body, headers=headers)


async def test_a_late_webhook_and_its_redelivery_change_nothing(payments, stage, webhook_receiver):
    stage.localstripe.register_webhook(f"late-{uuid.uuid4().hex[:6]}", webhook_receiver.url, stage.webhook_secret)
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 6_000)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded"
    [request, *_] = await _webhooks_for(webhook_receiver, payment["provider_payment_id"], "payment_intent.succeeded")
    first = await _post(stage, request)
    assert first.status_code == 200 and first.json()["outcome"] == "no_change"
    again = await _post(stage, request)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert len(await stage.events("payment.succeeded")) == 1
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1


async def test_a_webhook_completes_a_payment_after_authentication(payments, stage, webhook_receiver):
    stage.localstripe.register_webhook(f"auth-{uuid.uuid4().hex[:6]}", webhook_receiver.url, stage.webhook_secret)
    customer = await stage.customer(card=CARD_3DS)
    _, payment_id = await stage.finalize(customer, 7_500)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "requires_action"
    intent = stage.stripe.v1.payment_intents.retrieve(payment["provider_payment_id"])
    # the customer authenticates on Stripe's page (localstripe's endpoint for it)
    stage.localstripe.authenticate(intent.id, intent.client_secret)
    [request, *_] = await _webhooks_for(webhook_receiver, intent.id, "payment_intent.succeeded")
    applied = await _post(stage, request)
    assert applied.status_code == 200 and applied.json()["outcome"] == "applied"
    assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    assert [e["data"]["payment"]["lago_id"] for e in await stage.events("payment.succeeded")] == [str(payment_id)]
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1


async def test_a_webhook_that_does_not_verify_is_refused(payments, stage, webhook_receiver):
    stage.localstripe.register_webhook(f"bad-{uuid.uuid4().hex[:6]}", webhook_receiver.url, "whsec_someone_else")
    customer = await stage.customer(card=CARD_3DS)
    _, payment_id = await stage.finalize(customer, 1_000)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    payment = await stage.payment(payment_id)
    intent = stage.stripe.v1.payment_intents.retrieve(payment["provider_payment_id"])
    stage.localstripe.authenticate(intent.id, intent.client_secret)
    requests = await _webhooks_for(webhook_receiver, intent.id, "payment_intent.succeeded")
    forged = next(r for r in requests if r.path == "/")  # signed with another secret
    response = await _post(stage, forged)
    assert response.status_code == 400 and response.json()["code"] == "invalid_webhook_signature"
    missing = await _post(stage, forged, signature="")
    assert missing.status_code == 400
    unknown = await _post(stage, forged, code="no_such_connection")
    assert unknown.status_code == 404
    assert (await stage.payment(payment_id))["payment_status"] == "requires_action"
