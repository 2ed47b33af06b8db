"""Invoicing's `credit_note.refund_requested`: the same refund as the API's, keyed by the credit note's id, so a
redelivered request is refunded at Stripe once; a request payments must refuse answers `refund.failed`."""

from __future__ import annotations

import uuid

from invora.events.envelope import EventEnvelope
from payments.payments import charger
from payments.refunds import service as refunds
from payments.refunds.consumer import credit_note_refunds_consumer


def request(stage, invoice_id, payment_id, amount: int, note_id: uuid.UUID) -> EventEnvelope:
    return EventEnvelope(type="credit_note.refund_requested", source="invoicing", organization_id=stage.org,
                         aggregate_type="credit_note", aggregate_id=str(note_id), sequence=1, data={
                             "lago_credit_note_id": str(note_id), "lago_invoice_id": str(invoice_id),
                             "lago_payment_id": str(payment_id), "amount_cents": amount, "currency": "EUR",
                             "reason": "credit_note INV-1-CN1: duplicated_charge"})


async def deliver(payments, envelope: EventEnvelope) -> None:
    handler = credit_note_refunds_consumer(lambda: payments.app.state.runtime).handler
    async with payments.database.sessionmaker() as session:
        await handler(session, envelope)
        await session.commit()


async def test_a_credit_notes_refund_is_made_once_at_stripe_and_a_refused_one_fails(payments, stage):
    customer = await stage.customer()
    invoice_id, payment_id = await stage.finalize(customer, 9_000)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded"
    note = uuid.uuid4()
    for _ in range(2):  # redelivered
        await deliver(payments, request(stage, invoice_id, payment_id, 3_000, note))
    await refunds.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    await deliver(payments, request(stage, invoice_id, payment_id, 3_000, note))  # late redelivery
    await refunds.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    at_stripe = stage.stripe.v1.refunds.list({"payment_intent": payment["provider_payment_id"]}).data
    assert [r.amount for r in at_stripe] == [3_000]
    done = [e["data"]["refund"] for e in await stage.events("refund.succeeded")]
    assert [(r["idempotency_key"], r["amount_cents"], r["requested_by"]) for r in done] == [
        (str(note), 3_000, "credit_note")]
    assert len(await stage.events("refund.created")) == 1
    # more than is left (6 000): recorded as failed and answered by `refund.failed`, nothing sent to Stripe
    other = uuid.uuid4()
    await deliver(payments, request(stage, invoice_id, payment_id, 6_001, other))
    await deliver(payments, request(stage, invoice_id, payment_id, 6_001, other))
    await refunds.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    failed = [e["data"]["refund"] for e in await stage.events("refund.failed")]
    assert [(r["idempotency_key"], r["status"]) for r in failed] == [(str(other), "failed")]
    assert failed[0]["failure_message"]
    assert len(stage.stripe.v1.refunds.list({"payment_intent": payment["provider_payment_id"]}).data) == 1
    # what failed does not count: the 6 000 left can still be refunded
    await deliver(payments, request(stage, invoice_id, payment_id, 6_000, uuid.uuid4()))
    await refunds.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    assert sorted(r.amount for r in stage.stripe.v1.refunds.list(
        {"payment_intent": payment["provider_payment_id"]}).data) == [3_000, 6_000]


async def test_an_unknown_payment_records_nothing(payments, stage):
    await deliver(payments, request(stage, uuid.uuid4(), uuid.uuid4(), 100, uuid.uuid4()))
    assert await stage.events("refund.created", "refund.failed") == []
