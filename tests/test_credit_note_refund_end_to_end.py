"""A credit note's refund end to end over the real broker: catalog → subscriptions → invoicing → payments
(localstripe) → invoicing. The pay-in-advance invoice is charged at the fake; invoicing learns the payment from
`payment.succeeded`; a credit note refunding part of it asks payments (`credit_note.refund_requested`), the
refunder refunds at the fake once, and `refund.succeeded` sets the note's `refund_status: succeeded`. An
invoice paid twice (a manual partial payment, then a Stripe charge of the rest) has a refund above either
payment split over both, newest first, each part refunded under its own key."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from .e2e import eventually, ok  # noqa: TID252
from .test_payments_end_to_end import (  # noqa: TID252
    CARD_OK,
    invoice_of,
    services,
    stripe_and_pro_plan,
    stripe_customer,
)


async def test_a_credit_notes_refund_is_made_once_at_stripe_and_succeeds(
        start_suite, localstripe):
    stripe = localstripe.client()
    async with start_suite(services(localstripe.url)) as suite:
        org, invoicing, payments = suite.org, suite["invoicing"], suite["payments"]
        sub_api, inv, pay = suite.api("subscriptions"), suite.api("invoicing"), suite.api("payments")

        await stripe_and_pro_plan(suite)
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
        # payments' refund is keyed by the note's refund part (what makes a redelivered request refund once)
        async with invoicing.database.sessionmaker() as session:
            part = (await session.execute(text("SELECT id::text FROM credit_note_refunds WHERE credit_note_id = :id"),
                                          {"id": note["lago_id"]})).scalar_one()
        async with payments.database.sessionmaker() as session:
            rows = (await session.execute(text(
                "SELECT idempotency_key, amount_cents, status, requested_by FROM refunds WHERE organization_id = :org"),
                {"org": org})).all()
        assert [tuple(r) for r in rows] == [(part, refund, "succeeded", "credit_note")]


async def wait_for(check, timeout: float = 60.0):
    return await eventually(check, "the condition", timeout, interval=0.2)


async def test_a_refund_above_either_payment_is_split_over_a_manual_and_a_stripe_payment(
        start_suite, localstripe):
    stripe = localstripe.client()
    async with start_suite(services(localstripe.url)) as suite:
        org, invoicing, payments = suite.org, suite["invoicing"], suite["payments"]
        sub_api, inv, pay = suite.api("subscriptions"), suite.api("invoicing"), suite.api("payments")

        await stripe_and_pro_plan(suite)
        # no provider yet: the invoice is finalized and not charged
        customer = {"external_id": "cus_split", "name": "cus_split", "currency": "EUR"}
        await ok(sub_api, "POST", "/api/v1/customers", {"customer": customer})
        await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_split", "plan_code": "pro", "external_id": "sub_split"}})
        invoice = await invoice_of(inv, "cus_split", "pending")
        total = invoice["total_amount_cents"]

        # 10.00 € by wire (older; 404 until payments has projected the invoice), then the provider linked and the
        # rest charged at Stripe (newer)
        async def wired():
            response = await pay.post("/api/v1/payments", json={"payment": {
                "invoice_id": invoice["lago_id"], "amount_cents": 1_000, "reference": "wire-1"}})
            assert response.status_code in (200, 404), response.text
            return response.json()["payment"] if response.status_code == 200 else None
        manual = await wait_for(wired)
        await ok(sub_api, "POST", "/api/v1/customers", {"customer": {**customer, "billing_configuration": {
            "payment_provider": "stripe", "payment_provider_code": "stripe_main",
            "provider_customer_id": stripe_customer(stripe, CARD_OK)}}})

        async def retried():
            response = await pay.post(f"/api/v1/invoices/{invoice['lago_id']}/retry_payment", json={})
            return response.json()["payment"] if response.status_code == 200 else None
        charge = await wait_for(retried)

        async def charged():
            found = (await ok(pay, "GET", f"/api/v1/payments/{charge['lago_id']}"))["payment"]
            return found if found["payment_status"] == "succeeded" else None
        charge = await charged() or await wait_for(charged)
        assert charge["amount_cents"] == total - 1_000
        fee = (await ok(inv, "GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]["fees"][0]
        items = [{"fee_id": fee["lago_id"], "amount_cents": fee["amount_cents"]}]

        async def both_recorded():  # invoicing learns each payment from its `payment.succeeded`
            estimated = (await ok(inv, "POST", "/api/v1/credit_notes/estimate", {"credit_note": {
                "invoice_id": invoice["lago_id"], "items": items}}))["estimated_credit_note"]
            return estimated["max_refundable_amount_cents"] == total
        await wait_for(both_recorded)

        # all of it back: more than the Stripe charge, so 10.00 € come from the wire
        note = (await ok(inv, "POST", "/api/v1/credit_notes", {"credit_note": {
            "invoice_id": invoice["lago_id"], "reason": "order_cancellation", "refund_amount_cents": total,
            "items": items}}))["credit_note"]
        assert (note["refund_status"], note["refund_amount_cents"], note["credit_amount_cents"]) == (
            "pending", total, 0)

        async def settled():
            found = (await ok(inv, "GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]
            return found if found["refund_status"] != "pending" else None
        assert (await wait_for(settled))["refund_status"] == "succeeded"
        at_stripe = stripe.v1.refunds.list({"payment_intent": charge["provider_payment_id"]}).data
        assert [r.amount for r in at_stripe] == [total - 1_000]
        async with invoicing.database.sessionmaker() as session:
            split = (await session.execute(text(
                "SELECT id::text, payment_id::text, amount_cents, status FROM credit_note_refunds "
                "WHERE credit_note_id = :id ORDER BY amount_cents DESC"), {"id": note["lago_id"]})).all()
        assert [(payment, amount, status) for _, payment, amount, status in split] == [
            (charge["lago_id"], total - 1_000, "succeeded"), (manual["lago_id"], 1_000, "succeeded")]
        async with payments.database.sessionmaker() as session:
            rows = (await session.execute(text(
                "SELECT idempotency_key, payment_id::text, amount_cents, status FROM refunds "
                "WHERE organization_id = :org ORDER BY amount_cents DESC"), {"org": org})).all()
        assert [tuple(r) for r in rows] == [(part, payment, amount, "succeeded") for part, payment, amount, _ in split]



async def test_a_termination_with_refund_gives_the_unused_days_back_at_stripe(start_suite, localstripe):
    """A plan paid in advance, charged at the fake, terminated the same day with `on_termination_credit_note=refund`:
    invoicing's termination credit note (`credit_notes/unused.py`) refunds what was paid of the unused days through
    payments' refund path, once, and the note's refund succeeds."""
    stripe = localstripe.client()
    async with start_suite(services(localstripe.url)) as suite:
        sub_api, inv, pay = suite.api("subscriptions"), suite.api("invoicing"), suite.api("payments")
        await stripe_and_pro_plan(suite)
        provider_customer = stripe_customer(stripe, CARD_OK)
        await ok(sub_api, "POST", "/api/v1/customers", {"customer": {
            "external_id": "cus_end", "name": "cus_end", "currency": "EUR",
            "billing_configuration": {"payment_provider": "stripe", "payment_provider_code": "stripe_main",
                                      "provider_customer_id": provider_customer}}})
        await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_end", "plan_code": "pro", "external_id": "sub_end"}})
        paid = await invoice_of(inv, "cus_end", "succeeded")
        [payment] = (await ok(pay, "GET", f"/api/v1/payments?invoice_id={paid['lago_id']}"))["payments"]

        async def payment_known() -> bool:  # invoicing records it from `payment.succeeded`
            invoice = (await ok(inv, "GET", f"/api/v1/invoices/{paid['lago_id']}"))["invoice"]
            return invoice["total_paid_amount_cents"] == paid["total_amount_cents"]

        await wait_for(payment_known)
        await ok(sub_api, "DELETE", "/api/v1/subscriptions/sub_end?on_termination_credit_note=refund")

        async def refunded() -> dict | None:
            notes = (await ok(inv, "GET", "/api/v1/credit_notes",
                              params={"invoice_id": paid["lago_id"]}))["credit_notes"]
            return notes[0] if notes and notes[0]["refund_status"] == "succeeded" else None

        note = await wait_for(refunded)
        # what was paid of the unused days (the fee less the used day) is the note's total, to the minor unit
        # (two roundings of the same days can differ by one): refunded, the rest (if any) credited
        assert note["reason"] == "order_cancellation" and note["offset_amount_cents"] == 0
        assert note["refund_amount_cents"] + note["credit_amount_cents"] == note["total_amount_cents"]
        assert note["credit_amount_cents"] <= 1 and 0 < note["total_amount_cents"] < paid["total_amount_cents"]
        at_stripe = stripe.v1.refunds.list({"payment_intent": payment["provider_payment_id"]}).data
        assert [r.amount for r in at_stripe] == [note["refund_amount_cents"]]
