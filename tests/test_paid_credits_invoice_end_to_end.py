"""Paid credits granted at once are invoiced and charged, end to end: wallets grants a paid top-up of a wallet
that does not require a successful payment (credits in the balance at once) and asks invoicing for its invoice
(`wallet.paid_credits_invoice_requested`); invoicing finalizes a `credit` invoice; payments charges it at Stripe
(localstripe) and invoicing shows it paid. Real services, real Kafka, real localstripe."""

from __future__ import annotations

import uuid

from invora.testing.producer import running_producer

from .test_wallet_topups_end_to_end import CARD_OK, _customer, _stripe_customer, _until  # noqa: TID252


async def test_paid_credits_granted_at_once_are_invoiced_and_charged(start_service, migrated_database,
                                                                      invora_kafka, localstripe):
    org = uuid.uuid4()
    stripe = localstripe.client()
    payments = await start_service("payments", consumers_enabled=True, charger_enabled=True,
                                   charger_interval_seconds=0.2, stripe_api_base=localstripe.url,
                                   provider_timeout_seconds=5.0, charger_lease_seconds=30.0,
                                   consumer_session_timeout_ms=2_000)
    wallets = await start_service("wallets", consumers_enabled=True, scheduler_enabled=False,
                                  reconciliation_enabled=False, consumer_session_timeout_ms=2_000)
    invoicing = await start_service("invoicing", consumers_enabled=True, scheduler_enabled=False,
                                    consumer_session_timeout_ms=2_000)
    pay, wal, inv = (service.client(org, roles=["admin"]) for service in (payments, wallets, invoicing))
    connected = await pay.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "stripe", "code": "stripe_main", "name": "Stripe",
        "secret_key": "sk_test_" + uuid.uuid4().hex}})
    assert connected.status_code == 200, connected.text
    customer = _customer("cus_paid_credits", "stripe_main", _stripe_customer(stripe, CARD_OK))
    async with running_producer(migrated_database("wallets"), invora_kafka) as producer:
        await producer.emit(org, "customer.created", data={"customer": customer}, aggregate_id=customer["lago_id"],
                            source="subscriptions")

        async def wallet() -> dict | None:
            response = await wal.post("/api/v1/wallets", json={"wallet": {
                "external_customer_id": "cus_paid_credits", "currency": "EUR", "rate_amount": "1.5", "code": "main",
                "paid_credits": "20", "invoice_requires_successful_payment": False}})
            if response.status_code == 404:  # the customer's event has not reached wallets yet
                return None
            assert response.status_code == 200, response.text
            return response.json()["wallet"]
        created = await _until(wallet, what="the wallet")
        assert created["balance_cents"] == 3_000  # granted at once: 20 credits × 1.50 €

        async def paid_invoice() -> dict | None:
            response = await inv.get("/api/v1/invoices", params={"external_customer_id": "cus_paid_credits"})
            found = response.json()["invoices"] if response.status_code == 200 else []
            return found[0] if found and found[0]["payment_status"] == "succeeded" else None
        invoice = await _until(paid_invoice, what="the credit invoice, paid")
        assert (invoice["invoice_type"], invoice["status"], invoice["total_amount_cents"],
                invoice["taxes_amount_cents"], invoice["total_paid_amount_cents"],
                invoice["total_due_amount_cents"]) == (
            "credit", "finalized", 3_000, 0, 3_000, 0)
        [payment] = (await pay.get("/api/v1/payments", params={"invoice_id": invoice["lago_id"]})).json()["payments"]
        assert (payment["payment_status"], payment["amount_cents"]) == ("succeeded", 3_000)
        assert stripe.v1.payment_intents.retrieve(payment["provider_payment_id"]).amount == 3_000
        # one invoice, one charge: the credits were not charged a second time as a top-up
        assert len((await inv.get("/api/v1/invoices", params={"external_customer_id": "cus_paid_credits"})).json()[
            "invoices"]) == 1
        assert (await wal.get(f"/api/v1/wallets/{created['lago_id']}")).json()["wallet"]["balance_cents"] == 3_000
