"""A credit note's refund end to end over the real broker: catalog → subscriptions → invoicing → payments
(localstripe) → invoicing. The pay-in-advance invoice is charged at the fake; invoicing learns the payment from
`payment.succeeded`; a credit note refunding part of it asks payments (`credit_note.refund_requested`), the
refunder refunds at the fake once, and `refund.succeeded` sets the note's `refund_status: succeeded`."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import httpx
from sqlalchemy import text

from invora.testing.services import run_service
from subscriptions.plans.client import CatalogClient

from .test_payments_end_to_end import CARD_OK, invoice_of, ok, stripe_customer  # noqa: TID252


async def test_a_credit_notes_refund_is_made_once_at_stripe_and_succeeds(
        migrated_database, invora_kafka, invora_keys, localstripe):
    org = uuid.uuid4()
    stripe = localstripe.client()
    common = dict(kafka=invora_kafka, keys=invora_keys, consumer_session_timeout_ms=2_000)
    async with contextlib.AsyncExitStack() as stack:
        catalog = await stack.enter_async_context(run_service(
            "catalog", database_url=migrated_database("catalog"), **common))
        subs = await stack.enter_async_context(run_service(
            "subscriptions", database_url=migrated_database("subscriptions"), **common, scheduler_enabled=False,
            consumers_enabled=False))
        invoicing = await stack.enter_async_context(run_service(
            "invoicing", database_url=migrated_database("invoicing"), **common, scheduler_enabled=False))
        payments = await stack.enter_async_context(run_service(
            "payments", database_url=migrated_database("payments"), **common, stripe_api_base=localstripe.url,
            charger_interval_seconds=0.2, provider_timeout_seconds=5.0, charger_lease_seconds=30.0))
        runtime = subs.app.state.runtime
        settings = subs.app.state.settings.model_copy(update={
            "service_signing_key": invora_keys.private_pem.decode(), "catalog_url": "http://catalog.test"})
        previous, runtime.catalog = runtime.catalog, CatalogClient(settings,
                                                                   transport=httpx.ASGITransport(app=catalog.app))
        stack.push_async_callback(runtime.catalog.aclose)
        cat, sub_api, inv, pay = catalog.client(org), subs.client(org), invoicing.client(org), payments.client(org)

        await ok(pay, "POST", "/api/v1/payment_providers", {"payment_provider": {
            "provider_type": "stripe", "code": "stripe_main", "name": "Stripe", "secret_key": "sk_test_e2e",
            "webhook_secret": "whsec_e2e"}})
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Pro", "code": "pro", "interval": "monthly", "amount_cents": 4_900, "amount_currency": "EUR",
            "pay_in_advance": True}})
        provider_customer = stripe_customer(stripe, CARD_OK)
        await ok(sub_api, "POST", "/api/v1/customers", {"customer": {
            "external_id": "cus_refund", "name": "cus_refund", "currency": "EUR",
            "billing_configuration": {"payment_provider": "stripe", "payment_provider_code": "stripe_main",
                                      "provider_customer_id": provider_customer}}})
        await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_refund", "plan_code": "pro", "external_id": "sub_refund"}})

        paid = await invoice_of(inv, "cus_refund", "succeeded")
        total = paid["total_amount_cents"]
        [payment] = (await ok(pay, "GET", f"/api/v1/payments?invoice_id={paid['lago_id']}"))["payments"]
        fee = (await ok(inv, "GET", f"/api/v1/invoices/{paid['lago_id']}"))["invoice"]["fees"][0]
        items = [{"fee_id": fee["lago_id"], "amount_cents": fee["amount_cents"]}]
        # invoicing learns the payment from `payment.succeeded` (it may come a moment after the status)
        for _ in range(200):
            estimated = (await ok(inv, "POST", "/api/v1/credit_notes/estimate", {"credit_note": {
                "invoice_id": paid["lago_id"], "items": items}}))["estimated_credit_note"]
            if estimated["max_refundable_amount_cents"]:
                break
            await asyncio.sleep(0.1)
        assert estimated["max_refundable_amount_cents"] == total
        refund = total - 1_000
        note = (await ok(inv, "POST", "/api/v1/credit_notes", {"credit_note": {
            "invoice_id": paid["lago_id"], "reason": "order_change", "refund_amount_cents": refund,
            "items": items}}))["credit_note"]
        assert (note["refund_status"], note["refund_amount_cents"], note["credit_amount_cents"]) == (
            "pending", refund, 1_000)
        for _ in range(300):
            note = (await ok(inv, "GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]
            if note["refund_status"] != "pending":
                break
            await asyncio.sleep(0.2)
        assert note["refund_status"] == "succeeded"
        # the money went back once, at the fake, for the refund part only
        at_stripe = stripe.v1.refunds.list({"payment_intent": payment["provider_payment_id"]}).data
        assert [r.amount for r in at_stripe] == [refund]
        # payments' refund is keyed by the credit note (what makes a redelivered request refund once)
        async with payments.database.sessionmaker() as session:
            rows = (await session.execute(text(
                "SELECT idempotency_key, amount_cents, status, requested_by FROM refunds WHERE organization_id = :org"),
                {"org": org})).all()
        assert [tuple(r) for r in rows] == [(note["lago_id"], refund, "succeeded", "credit_note")]
        runtime.catalog = previous
