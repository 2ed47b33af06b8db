"""Pages hosted by Stripe (Checkout, on the fake): an invoice's payment URL, paid there and recorded once from
the webhook whatever the redeliveries; a customer's checkout URL adding the card the next charge uses; the
refusals (paid, a charge under way, no provider, another organization, another tenant)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid

from payments.payments import charger

CARD_OK = "4242424242424242"


async def _webhook(receiver, event_type: str, match, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for request in receiver.requests:
            body = json.loads(request.body)
            if body["type"] == event_type and match(body["data"]["object"]):
                return request
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {event_type} webhook")


async def _post(stage, body: bytes, signature: str):
    return await stage.service.client().post(
        f"/api/v1/provider_webhooks/stripe/{stage.org}", params={"code": stage.provider_code}, content=body,
        headers={"content-type": "application/json", "stripe-signature": signature})


def _signed(secret: str, body: bytes) -> str:
    timestamp = int(time.time())
    return f"t={timestamp},v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _session_id(url: str) -> str:
    return url.rsplit("/", 1)[-1]


async def test_an_invoice_paid_on_its_payment_page_is_recorded_once(payments, stage, webhook_receiver):
    stage.localstripe.register_webhook(f"url-{uuid.uuid4().hex[:6]}", webhook_receiver.url, stage.webhook_secret,
                                       events=["payment_intent.succeeded"])
    customer = await stage.customer(card=None)  # at Stripe, no card yet: the off-session charge fails
    invoice_id, attempt = await stage.finalize(customer, 8_800)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    assert (await stage.payment(attempt))["payment_status"] == "failed"

    answer = await stage.ok("POST", f"/api/v1/invoices/{invoice_id}/payment_url")
    details = answer["invoice_payment_details"]
    assert details["lago_invoice_id"] == str(invoice_id) and details["payment_provider"] == "stripe"
    assert details["external_customer_id"] == customer["external_id"]
    assert details["payment_url"].startswith("https://checkout.stripe.com/")
    session = stage.stripe.v1.checkout.sessions.retrieve(_session_id(details["payment_url"]))
    assert (session.mode, session.amount_total, session.customer) == ("payment", 8_800,
                                                                     customer["provider_customer_id"])

    paid = stage.localstripe.complete_checkout(session.id, CARD_OK)  # the customer pays on the page
    request = await _webhook(webhook_receiver, "payment_intent.succeeded",
                             lambda obj: obj["id"] == paid["payment_intent"])
    first = await _post(stage, request.body, request.headers["Stripe-Signature"])
    assert first.status_code == 200 and first.json()["outcome"] == "recorded"
    assert (await _post(stage, request.body, request.headers["Stripe-Signature"])).json()["outcome"] == "duplicate"
    replay = json.loads(request.body)
    replay["id"] = f"evt_{uuid.uuid4().hex[:14]}"  # the same charge under another event id
    body = json.dumps(replay).encode()
    assert (await _post(stage, body, _signed(stage.webhook_secret, body))).json()["outcome"] == "no_change"

    listed = (await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}"))["payments"]
    succeeded = [p for p in listed if p["payment_status"] == "succeeded"]
    assert [(p["amount_cents"], p["provider_payment_id"]) for p in succeeded] == [(8_800, paid["payment_intent"])]
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1
    assert [e["data"]["payment"]["lago_id"] for e in await stage.events("payment.succeeded")] == [
        succeeded[0]["lago_id"]]
    # paid: no second page
    body = await stage.error("POST", f"/api/v1/invoices/{invoice_id}/payment_url")
    assert body["error_details"] == {"base": ["invoice_not_payable"]}


async def test_a_payment_url_is_refused_while_a_charge_is_under_way_and_for_others(payments, stage):
    customer = await stage.customer()
    invoice_id, _ = await stage.finalize(customer, 1_000)  # a pending attempt, not sent yet
    body = await stage.error("POST", f"/api/v1/invoices/{invoice_id}/payment_url")
    assert body["error_details"] == {"base": ["payment_in_progress"]}
    other_org = stage.service.client(uuid.uuid4())
    assert (await other_org.post(f"/api/v1/invoices/{invoice_id}/payment_url")).status_code == 404
    await stage.error("POST", f"/api/v1/invoices/{uuid.uuid4()}/payment_url", status=404)
    await stage.error("POST", "/api/v1/invoices/not-an-id/payment_url", status=404)
    stranger = await stage.customer()
    tenant = stage.service.client(stage.org, roles=["tenant"], customer_id=stranger["lago_id"])
    assert (await tenant.post(f"/api/v1/invoices/{invoice_id}/payment_url")).status_code == 403
    reader = stage.service.client(stage.org, roles=["service"])
    assert (await reader.post(f"/api/v1/invoices/{invoice_id}/payment_url")).status_code == 403
    no_provider = await stage.customer(provider=False)
    unlinked_invoice, _ = await stage.finalize(no_provider, 500)
    body = await stage.error("POST", f"/api/v1/invoices/{unlinked_invoice}/payment_url")
    assert body["error_details"] == {"base": ["no_linked_payment_provider"]}


async def test_a_checkout_url_adds_the_card_the_next_charge_uses(payments, stage):
    customer = await stage.customer(linked=False, card=None)  # not at Stripe yet: created on demand
    answer = (await stage.ok("POST", f"/api/v1/customers/{customer['external_id']}/checkout_url"))["customer"]
    assert answer["external_customer_id"] == customer["external_id"] and answer["payment_provider"] == "stripe"
    assert answer["payment_provider_code"] == stage.provider_code and answer["lago_customer_id"] == customer["lago_id"]
    session = stage.stripe.v1.checkout.sessions.retrieve(_session_id(answer["checkout_url"]))
    assert session.mode == "setup" and session.customer.startswith("cus_")
    assert len(await stage.events("customer.payment_provider_created")) == 1
    # the same customer asks again: the same Stripe customer, a new page
    again = (await stage.ok("POST", f"/api/v1/customers/{customer['external_id']}/checkout_url"))["customer"]
    assert stage.stripe.v1.checkout.sessions.retrieve(_session_id(again["checkout_url"])).customer == session.customer
    assert len(await stage.events("customer.payment_provider_created")) == 1

    stage.localstripe.complete_checkout(session.id, CARD_OK)  # the customer adds a card on the page
    methods = (await stage.ok("GET", f"/api/v1/customers/{customer['external_id']}/payment_methods"))
    assert [(m["last4"], m["is_default"]) for m in methods["payment_methods"]] == [("4242", True)]
    invoice_id, payment_id = await stage.finalize(customer, 2_200)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    assert (await stage.payment(payment_id))["payment_status"] == "succeeded"

    tenant = stage.service.client(stage.org, roles=["tenant"], customer_id=customer["lago_id"])
    own = await tenant.post(f"/api/v1/customers/{customer['external_id']}/checkout_url")
    assert own.status_code == 200, own.text
    stranger = await stage.customer()
    assert (await tenant.post(f"/api/v1/customers/{stranger['external_id']}/checkout_url")).status_code == 403
    await stage.error("POST", "/api/v1/customers/nobody_here/checkout_url", status=404)
    other_org = stage.service.client(uuid.uuid4())
    assert (await other_org.post(f"/api/v1/customers/{customer['external_id']}/checkout_url")).status_code == 404
    no_provider = await stage.customer(provider=False)
    body = await stage.error("POST", f"/api/v1/customers/{no_provider['external_id']}/checkout_url")
    assert body["error_details"] == {"base": ["no_linked_payment_provider"]}


async def test_retry_payment_charges_a_failed_invoice_again_once(payments, stage):
    customer = await stage.customer(card=None)  # no card: the first charge fails
    invoice_id, first = await stage.finalize(customer, 1_500)
    # while the first attempt is pending, a retry is refused (one live attempt per invoice)
    body = await stage.error("POST", f"/api/v1/invoices/{invoice_id}/retry_payment")
    assert body["error_details"] == {"base": ["payment_in_progress"]}
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    assert (await stage.payment(first))["payment_status"] == "failed"
    method = stage.stripe.v1.payment_methods.create({"type": "card", "card": {
        "number": CARD_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    stage.stripe.v1.payment_methods.attach(method.id, {"customer": customer["provider_customer_id"]})

    retried = (await stage.ok("POST", f"/api/v1/invoices/{invoice_id}/retry_payment"))["payment"]
    assert retried["payment_status"] == "pending" and retried["lago_payable_id"] == str(invoice_id)
    again = await stage.error("POST", f"/api/v1/invoices/{invoice_id}/retry_payment")  # asked twice at once
    assert again["error_details"] == {"base": ["payment_in_progress"]}
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    assert (await stage.payment(retried["lago_id"]))["payment_status"] == "succeeded"
    assert [c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])] == [1_500]
    paid = await stage.error("POST", f"/api/v1/invoices/{invoice_id}/retry_payment", status=405)
    assert paid["code"] == "invoice_not_payable"
    await stage.error("POST", f"/api/v1/invoices/{uuid.uuid4()}/retry_payment", status=404)
    other_org = stage.service.client(uuid.uuid4())
    assert (await other_org.post(f"/api/v1/invoices/{invoice_id}/retry_payment")).status_code == 404
    custom = await stage.error("POST", f"/api/v1/invoices/{invoice_id}/retry_payment",
                               {"payment_method": {"payment_method_type": "card", "payment_method_id": "pm_x"}})
    assert custom["error_details"] == {"payment_method": ["not_supported"]}
    await stage.error("POST", f"/api/v1/invoices/{invoice_id}/retry_payment", {"unknown": 1})
