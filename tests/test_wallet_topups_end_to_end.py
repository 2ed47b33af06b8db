"""A paid top-up settles from payments, end to end: wallets records it `pending` and asks for the charge
(`wallet_transaction.payment_requested`), payments charges the customer's card at Stripe (localstripe)
and answers (`wallet_topup_payment.succeeded|failed`), and wallets settles it, or fails it with
`wallet_transaction.payment_failure` for a declined card. Real services, real Kafka, real localstripe."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from invora.testing.producer import running_producer

from .e2e import eventually  # noqa: TID252

CARD_OK = "4242424242424242"
CARD_DECLINED_ON_CHARGE = "4000000000000341"


def _customer(external_id: str, provider_code: str, provider_customer_id: str) -> dict:
    now = datetime.now(UTC).isoformat()
    return {
        "lago_id": str(uuid.uuid4()), "sequential_id": 1, "slug": "CUS-1", "external_id": external_id,
        "name": "Acme", "email": "billing@acme.test", "currency": "EUR", "applicable_timezone": "UTC",
        "account_type": "customer", "finalize_zero_amount_invoice": "inherit",
        "skip_invoice_custom_sections": False, "shipping_address": {}, "created_at": now, "updated_at": now,
        "billing_configuration": {"payment_provider": "stripe", "payment_provider_code": provider_code,
                                  "provider_customer_id": provider_customer_id},
    }


def _stripe_customer(stripe, card: str) -> str:
    customer = stripe.v1.customers.create({"email": "payer@acme.test"})
    method = stripe.v1.payment_methods.create({"type": "card", "card": {
        "number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    stripe.v1.payment_methods.attach(method.id, {"customer": customer.id})
    return customer.id


async def _until(probe, timeout: float = 90.0, what: str = "condition"):
    return await eventually(probe, what, timeout, interval=0.3)


async def test_paid_top_ups_settle_or_fail_from_payments(start_service, migrated_database, invora_kafka,
                                                         localstripe):
    org = uuid.uuid4()
    stripe = localstripe.client()
    payments = await start_service("payments", consumers_enabled=True, charger_enabled=True,
                                   charger_interval_seconds=0.2, stripe_api_base=localstripe.url,
                                   provider_timeout_seconds=5.0, charger_lease_seconds=30.0,
                                   consumer_session_timeout_ms=2_000)
    wallets = await start_service("wallets", consumers_enabled=True, scheduler_enabled=False,
                                  reconciliation_enabled=False, consumer_session_timeout_ms=2_000)
    pay, wal = payments.client(org, roles=["admin"]), wallets.client(org, roles=["admin"])
    connected = await pay.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "stripe", "code": "stripe_main", "name": "Stripe",
        "secret_key": "sk_test_" + uuid.uuid4().hex}})
    assert connected.status_code == 200, connected.text

    good_stripe = _stripe_customer(stripe, CARD_OK)
    bad_stripe = _stripe_customer(stripe, CARD_DECLINED_ON_CHARGE)
    async with running_producer(migrated_database("wallets"), invora_kafka) as producer:
        for external_id, stripe_id in (("cus_good", good_stripe), ("cus_bad", bad_stripe)):
            customer = _customer(external_id, "stripe_main", stripe_id)
            await producer.emit(org, "customer.created", data={"customer": customer}, aggregate_id=customer["lago_id"],
                                source="subscriptions")

        async def wallet_for(external_id: str) -> dict | None:
            response = await wal.post("/api/v1/wallets", json={"wallet": {
                "external_customer_id": external_id, "currency": "EUR", "rate_amount": "1", "code": "main",
                "invoice_requires_successful_payment": True}})
            if response.status_code == 404:  # the customer's event has not reached wallets yet
                return None
            assert response.status_code == 200, response.text
            return response.json()["wallet"]

        good = await _until(lambda: wallet_for("cus_good"), what="wallets to learn cus_good")
        bad = await _until(lambda: wallet_for("cus_bad"), what="wallets to learn cus_bad")

        async def top_up(wallet: dict) -> dict:
            response = await wal.post("/api/v1/wallet_transactions", json={"wallet_transaction": {
                "wallet_id": wallet["lago_id"], "paid_credits": "25"}})
            assert response.status_code == 200, response.text
            [transaction] = response.json()["wallet_transactions"]
            assert transaction["status"] == "pending"
            return transaction

        paid, declined = await top_up(good), await top_up(bad)

        async def status(transaction: dict) -> str | None:
            response = await wal.get(f"/api/v1/wallet_transactions/{transaction['lago_id']}")
            current = response.json()["wallet_transaction"]["status"]
            return current if current != "pending" else None

        assert await _until(lambda: status(paid), what="the paid top-up to settle") == "settled"
        assert await _until(lambda: status(declined), what="the declined top-up to fail") == "failed"

    assert (await wal.get(f"/api/v1/wallets/{good['lago_id']}")).json()["wallet"]["balance_cents"] == 2_500
    assert (await wal.get(f"/api/v1/wallets/{bad['lago_id']}")).json()["wallet"]["balance_cents"] == 0
    charges = [c for c in stripe.v1.charges.list({"customer": good_stripe, "limit": 100}).data
               if c.status == "succeeded"]
    assert [c.amount for c in charges] == [2_500]  # charged once
    assert not [c for c in stripe.v1.charges.list({"customer": bad_stripe, "limit": 100}).data
                if c.status == "succeeded"]
    async with wallets.database.sessionmaker() as session:
        failures = (await session.execute(text(
            "SELECT count(*) FROM outbox_events WHERE event_type = 'wallet_transaction.payment_failure' "
            "AND message_key = :k"), {"k": declined["lago_id"]})).scalar_one()
    assert failures == 1


async def test_a_manual_top_up_is_paid_on_its_page_and_settles_once(start_service, migrated_database, invora_kafka,
                                                                    localstripe, webhook_receiver):
    """Lago's `payment_method_type: manual`: wallets asks payments to collect the top-up without charging it;
    `POST /wallet_transactions/{id}/payment_url` (payments) gives Stripe's Checkout page; the customer pays there;
    the webhook settles it once, and wallets grants the credits."""
    org = uuid.uuid4()
    stripe = localstripe.client()
    secret = f"whsec_{uuid.uuid4().hex}"
    localstripe.register_webhook(f"manual-{uuid.uuid4().hex[:6]}", webhook_receiver.url, secret,
                                 events=["payment_intent.succeeded"])
    payments = await start_service("payments", consumers_enabled=True, charger_enabled=True,
                                   charger_interval_seconds=0.2, stripe_api_base=localstripe.url,
                                   provider_timeout_seconds=5.0, charger_lease_seconds=30.0,
                                   consumer_session_timeout_ms=2_000)
    wallets = await start_service("wallets", consumers_enabled=True, scheduler_enabled=False,
                                  reconciliation_enabled=False, consumer_session_timeout_ms=2_000)
    pay, wal = payments.client(org, roles=["admin"]), wallets.client(org, roles=["admin"])
    connected = await pay.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "stripe", "code": "stripe_main", "name": "Stripe", "secret_key": "sk_test_" + uuid.uuid4().hex,
        "webhook_secret": secret}})
    assert connected.status_code == 200, connected.text
    stripe_customer = stripe.v1.customers.create({"email": "payer@acme.test"}).id  # no card saved
    async with running_producer(migrated_database("wallets"), invora_kafka) as producer:
        customer = _customer("cus_page", "stripe_main", stripe_customer)
        await producer.emit(org, "customer.created", data={"customer": customer}, aggregate_id=customer["lago_id"],
                            source="subscriptions")

        async def wallet() -> dict | None:
            response = await wal.post("/api/v1/wallets", json={"wallet": {
                "external_customer_id": "cus_page", "currency": "EUR", "rate_amount": "1", "code": "main",
                "invoice_requires_successful_payment": True}})
            return response.json()["wallet"] if response.status_code == 200 else None

        created = await _until(wallet, what="wallets to learn cus_page")
        response = await wal.post("/api/v1/wallet_transactions", json={"wallet_transaction": {
            "wallet_id": created["lago_id"], "paid_credits": "25",
            "payment_method": {"payment_method_type": "manual"}}})
        assert response.status_code == 200, response.text
        [transaction] = response.json()["wallet_transactions"]
        assert transaction["status"] == "pending"
        url = f"/api/v1/wallet_transactions/{transaction['lago_id']}/payment_url"

        async def page() -> dict | None:  # payments learns of the top-up from the bus
            answer = await pay.post(url)
            return answer.json()["wallet_transaction_payment_details"] if answer.status_code == 200 else None

        details = await _until(page, what="payments to make the top-up's page")
        session_id = details["payment_url"].rsplit("/", 1)[-1]
        assert stripe.v1.checkout.sessions.retrieve(session_id).amount_total == 2_500
        paid = localstripe.complete_checkout(session_id, CARD_OK)

        async def delivered():
            for request in webhook_receiver.requests:
                if paid["payment_intent"].encode() in request.body:
                    return request
            return None

        request = await _until(delivered, what="Stripe's webhook")
        for expected in ("recorded", "duplicate"):
            answer = await payments.client().post(
                f"/api/v1/provider_webhooks/stripe/{org}", params={"code": "stripe_main"}, content=request.body,
                headers={"content-type": "application/json", "stripe-signature": request.headers["Stripe-Signature"]})
            assert answer.status_code == 200 and answer.json()["outcome"] == expected, answer.text

        async def settled() -> bool:
            response = await wal.get(f"/api/v1/wallet_transactions/{transaction['lago_id']}")
            return response.json()["wallet_transaction"]["status"] == "settled"

        await _until(settled, what="the top-up to settle")
    assert (await wal.get(f"/api/v1/wallets/{created['lago_id']}")).json()["wallet"]["balance_cents"] == 2_500
    charges = [c for c in stripe.v1.charges.list({"customer": stripe_customer, "limit": 100}).data
               if c.status == "succeeded"]
    assert [c.amount for c in charges] == [2_500]
    again = await pay.post(url)
    assert again.status_code == 422 and again.json()["error_details"] == {"base": ["wallet_transaction_not_payable"]}
