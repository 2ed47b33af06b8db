"""Stripe disputes (`charge.dispute.*`, as localstripe signs and sends them) recorded on the payment: opened, then
won or lost, one event per step (`payment.dispute_opened`, `payment.dispute_won|lost`) however often or in
whatever order the webhooks come, and never across organizations."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid

from payments.payments import charger


async def _dispute_webhook(receiver, dispute_id: str, event_type: str, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for request in receiver.requests:
            body = json.loads(request.body)
            if body["type"] == event_type and body["data"]["object"]["id"] == dispute_id:
                return request
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {event_type} webhook for {dispute_id}")


def signed(secret: str, body: bytes) -> str:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


async def _post(stage, body: bytes, signature: str, *, org=None, code: str | None = None):
    client = stage.service.client()
    return await client.post(f"/api/v1/provider_webhooks/stripe/{org or stage.org}",
                             params={"code": code or stage.provider_code}, content=body,
                             headers={"content-type": "application/json", "stripe-signature": signature})


async def _forward(stage, request):
    return await _post(stage, request.body, request.headers["Stripe-Signature"])


async def paid_payment(payments, stage) -> tuple[dict, str]:
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 3_000)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded" and payment["dispute"] is None
    charge = stage.stripe.v1.payment_intents.retrieve(payment["provider_payment_id"]).latest_charge
    return payment, charge if isinstance(charge, str) else charge.id


async def test_a_lost_dispute_is_recorded_once_whatever_the_order_of_webhooks(payments, stage, webhook_receiver):
    stage.localstripe.register_webhook(f"dispute-{uuid.uuid4().hex[:6]}", webhook_receiver.url, stage.webhook_secret)
    payment, charge_id = await paid_payment(payments, stage)
    dispute = stage.localstripe.open_dispute(charge_id, reason="fraudulent")
    created = await _dispute_webhook(webhook_receiver, dispute["id"], "charge.dispute.created")
    response = await _forward(stage, created)
    assert response.status_code == 200 and response.json()["outcome"] == "applied"
    recorded = (await stage.payment(payment["lago_id"]))["dispute"]
    assert recorded["provider_dispute_id"] == dispute["id"] and recorded["status"] == "needs_response"
    assert recorded["reason"] == "fraudulent" and recorded["opened_at"] and recorded["lost_at"] is None
    assert (await _forward(stage, created)).json()["outcome"] == "duplicate"

    stage.localstripe.close_dispute(dispute["id"], "lost")
    closed = await _dispute_webhook(webhook_receiver, dispute["id"], "charge.dispute.closed")
    assert (await _forward(stage, closed)).json()["outcome"] == "applied"
    after = await stage.payment(payment["lago_id"])
    assert after["dispute"]["status"] == "lost" and after["dispute"]["lost_at"]
    assert after["payment_status"] == "succeeded"  # the charge itself stays what it was

    # a late update (a new event id, validly signed) after the bank decided changes nothing
    late = json.loads(created.body)
    late["id"] = f"evt_{uuid.uuid4().hex[:14]}"
    late["type"] = "charge.dispute.updated"
    late["data"]["object"]["status"] = "under_review"
    body = json.dumps(late).encode()
    assert (await _post(stage, body, signed(stage.webhook_secret, body))).json()["outcome"] == "no_change"
    assert (await stage.payment(payment["lago_id"]))["dispute"]["status"] == "lost"
    assert len(await stage.events("payment.dispute_opened")) == 1
    lost = await stage.events("payment.dispute_lost")
    assert [e["data"]["payment"]["lago_id"] for e in lost] == [payment["lago_id"]]
    assert lost[0]["data"]["payment"]["invoice_ids"] == payment["invoice_ids"]
    assert await stage.events("payment.dispute_won") == []


async def test_a_won_dispute_publishes_won_and_never_lost(payments, stage, webhook_receiver):
    stage.localstripe.register_webhook(f"won-{uuid.uuid4().hex[:6]}", webhook_receiver.url, stage.webhook_secret)
    payment, charge_id = await paid_payment(payments, stage)
    dispute = stage.localstripe.open_dispute(charge_id, reason="product_not_received")
    stage.localstripe.close_dispute(dispute["id"], "won")
    closed = await _dispute_webhook(webhook_receiver, dispute["id"], "charge.dispute.closed")
    created = await _dispute_webhook(webhook_receiver, dispute["id"], "charge.dispute.created")
    # the closing webhook first: the dispute is opened and won in one step, the creation after it is stale
    assert (await _forward(stage, closed)).json()["outcome"] == "applied"
    assert (await _forward(stage, created)).json()["outcome"] == "no_change"
    assert (await stage.payment(payment["lago_id"]))["dispute"]["status"] == "won"
    assert [len(await stage.events(t)) for t in ("payment.dispute_opened", "payment.dispute_won",
                                                 "payment.dispute_lost")] == [1, 1, 0]


async def test_a_dispute_never_reaches_another_organizations_payment(payments, stage, webhook_receiver, org,
                                                                     stripe_client, localstripe):
    stage.localstripe.register_webhook(f"iso-{uuid.uuid4().hex[:6]}", webhook_receiver.url, stage.webhook_secret)
    payment, charge_id = await paid_payment(payments, stage)
    other = type(stage)(payments, uuid.uuid4(), stripe_client, localstripe)  # another organization
    await other.connect_stripe()
    dispute = stage.localstripe.open_dispute(charge_id)
    created = await _dispute_webhook(webhook_receiver, dispute["id"], "charge.dispute.created")
    # the other organization's route, with its connection: our signature does not verify there
    refused = await _post(other, created.body, created.headers["Stripe-Signature"])
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_webhook_signature"
    # signed with its own secret, the dispute names a payment it does not have
    resigned = await _post(other, created.body, signed(other.webhook_secret, created.body))
    assert resigned.status_code == 200 and resigned.json()["outcome"] == "unknown_payment"
    # our organization's id with the other's connection code: no such connection here
    crossed = await _post(stage, created.body, signed(other.webhook_secret, created.body), code=other.provider_code)
    assert crossed.status_code == 404
    assert (await stage.payment(payment["lago_id"]))["dispute"] is None
    assert await stage.events("payment.dispute_opened") == []
    bad = await _post(stage, b"{not json", signed(stage.webhook_secret, b"{not json"))
    assert bad.status_code == 400
