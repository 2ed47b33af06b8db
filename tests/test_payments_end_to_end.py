"""End to end over the real broker, the way `make run` wires it: catalog → subscriptions → invoicing →
payments (on localstripe, the Stripe fake) → invoicing. A pay-in-advance subscription's first invoice is
charged on the fake and shows `payment_status: succeeded`; a customer whose card declines gets
`failed`, and `payment.failed` (with its decline category) is published. Counted at the fake: one
charge per invoice. A lost dispute (Stripe's `charge.dispute.closed` webhook) reaches the invoice as
`payment_dispute_lost_at`."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import text

from .e2e import Suite, ok  # noqa: TID252

CARD_OK = "4242424242424242"
CARD_DECLINED_ON_CHARGE = "4000000000000341"  # attaches, then every charge is declined


def services(stripe_api_base: str) -> dict[str, dict]:
    """catalog → subscriptions → invoicing → payments (on the Stripe fake at `stripe_api_base`)."""
    common = {"consumer_session_timeout_ms": 2_000}
    return {"catalog": common,
            "subscriptions": {**common, "scheduler_enabled": False, "consumers_enabled": False},
            "invoicing": {**common, "scheduler_enabled": False},
            "payments": {**common, "stripe_api_base": stripe_api_base, "charger_interval_seconds": 0.2,
                         "provider_timeout_seconds": 5.0, "charger_lease_seconds": 30.0}}


async def stripe_and_pro_plan(suite: Suite) -> None:
    """The Stripe connection `stripe_main` (on the fake; webhook secret `whsec_e2e`) and the plan `pro`,
    49.00 € a month paid in advance."""
    await ok(suite.api("payments"), "POST", "/api/v1/payment_providers", {"payment_provider": {
        "provider_type": "stripe", "code": "stripe_main", "name": "Stripe", "secret_key": "sk_test_e2e",
        "webhook_secret": "whsec_e2e"}})
    await ok(suite.api("catalog"), "POST", "/api/v1/plans", {"plan": {
        "name": "Pro", "code": "pro", "interval": "monthly", "amount_cents": 4_900, "amount_currency": "EUR",
        "pay_in_advance": True}})


def stripe_customer(stripe, card: str) -> str:
    customer = stripe.v1.customers.create({"email": "payer@acme.test"})
    method = stripe.v1.payment_methods.create({"type": "card", "card": {
        "number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    stripe.v1.payment_methods.attach(method.id, {"customer": customer.id})
    return customer.id


async def invoice_of(client: httpx.AsyncClient, external_customer_id: str, payment_status: str,
                     timeout: float = 180.0) -> dict:
    """The customer's newest invoice once it has `payment_status`. The deadline is long because a suite's
    consumers join groups the worker's earlier tests left behind on the shared test broker: events of their
    organizations whose customers this suite's services never heard of are retried in place (0.6 s each) and
    parked before this test's own events on the same partition (one CI run took 60 s to get past them)."""
    deadline = asyncio.get_running_loop().time() + timeout
    found: list = []
    while asyncio.get_running_loop().time() < deadline:
        found = (await ok(client, "GET", f"/api/v1/invoices?external_customer_id={external_customer_id}"))["invoices"]
        if found and found[0]["payment_status"] == payment_status:
            return found[0]
        await asyncio.sleep(0.25)
    raise AssertionError(f"no invoice of {external_customer_id} with payment_status {payment_status}: {found}")


async def test_a_subscription_invoice_is_charged_on_the_stripe_fake_and_shown_paid_or_failed(
        start_suite, localstripe, webhook_receiver):
    stripe = localstripe.client()
    async with start_suite(services(localstripe.url)) as suite:
        org, payments = suite.org, suite["payments"]
        sub_api, inv, pay = suite.api("subscriptions"), suite.api("invoicing"), suite.api("payments")

        await stripe_and_pro_plan(suite)
        localstripe.register_webhook(f"e2e-{uuid.uuid4().hex[:6]}", webhook_receiver.url, "whsec_e2e",
                                     events=["charge.dispute.closed"])
        cards = {"cus_pays": CARD_OK, "cus_declines": CARD_DECLINED_ON_CHARGE}
        provider_customers = {}
        for external_id, card in cards.items():
            provider_customers[external_id] = stripe_customer(stripe, card)
            await ok(sub_api, "POST", "/api/v1/customers", {"customer": {
                "external_id": external_id, "name": external_id, "currency": "EUR",
                "billing_configuration": {"payment_provider": "stripe", "payment_provider_code": "stripe_main",
                                          "provider_customer_id": provider_customers[external_id]}}})
            await suite.subscribe(external_id, "pro", f"sub_{external_id}")

        paid = await invoice_of(inv, "cus_pays", "succeeded")
        assert paid["status"] == "finalized" and paid["total_amount_cents"] > 0
        failed = await invoice_of(inv, "cus_declines", "failed")
        assert failed["status"] == "finalized"

        # the money moved once, at the fake, for the invoice's total
        charges = [c for c in stripe.v1.charges.list({"customer": provider_customers["cus_pays"]}).data
                   if c.status == "succeeded"]
        assert [c.amount for c in charges] == [paid["total_amount_cents"]]
        assert not [c for c in stripe.v1.charges.list({"customer": provider_customers["cus_declines"]}).data
                    if c.status == "succeeded"]
        listed = (await ok(pay, "GET", f"/api/v1/payments?invoice_id={paid['lago_id']}"))["payments"]
        assert [(p["payment_status"], p["amount_cents"]) for p in listed] == [
            ("succeeded", paid["total_amount_cents"])]

        async with payments.database.sessionmaker() as session:
            failures = (await session.execute(text(
                "SELECT envelope FROM outbox_events WHERE event_type = 'payment.failed'"))).scalars().all()
        failures = [e for e in failures if e["organization_id"] == str(org)]
        assert len(failures) == 1
        payment = failures[0]["data"]["payment"]
        assert payment["lago_payable_id"] == failed["lago_id"]
        assert payment["failure"]["category"] in ("soft", "hard") and payment["failure"]["code"]

        # the customer disputes the charge and the bank decides against the merchant: Stripe's webhook goes to
        # payments, whose `payment.dispute_lost` marks the invoice
        dispute = localstripe.open_dispute(charges[0].id)
        localstripe.close_dispute(dispute["id"], "lost")
        webhook = None
        for _ in range(100):
            webhook = next((r for r in webhook_receiver.requests if dispute["id"].encode() in r.body), None)
            if webhook:
                break
            await asyncio.sleep(0.1)
        assert webhook is not None, "no charge.dispute.closed webhook"
        received = await payments.client().post(
            f"/api/v1/provider_webhooks/stripe/{org}", params={"code": "stripe_main"}, content=webhook.body,
            headers={"content-type": "application/json", "stripe-signature": webhook.headers["Stripe-Signature"]})
        assert received.status_code == 200 and received.json()["outcome"] == "applied", received.text
        for _ in range(200):
            invoice = (await ok(inv, "GET", f"/api/v1/invoices/{paid['lago_id']}"))["invoice"]
            if invoice["payment_dispute_lost_at"]:
                break
            await asyncio.sleep(0.2)
        assert invoice["payment_dispute_lost_at"], "the lost dispute never reached the invoice"
