"""A lost payment dispute (Lago's `POST /invoices/{id}/lose_dispute`, and payments' `payment.dispute_lost`): the
invoice shows `payment_dispute_lost_at` and `invoice.payment_dispute_lost` is published once, whichever path
comes first and however often; a draft answers 405 `not_disputable`; another organization's invoice is 404."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from invoicing.invoices.payments_consumer import on_payment

T0 = datetime(2026, 3, 1, tzinfo=UTC)  # the invoicing tests' clock (conftest)


def _dates():
    return T0, T0 + timedelta(days=31)


async def outbox(inv, org, event_type: str) -> list[dict]:
    async with inv.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = :type AND envelope->>'organization_id' = :org "
            "ORDER BY position"), {"type": event_type, "org": str(org)})).scalars().all()
    return [row["data"] for row in rows]


async def finalized_invoice(world, api) -> dict:
    start, end = _dates()
    customer = await world.customer()
    await world.close(world.subscription(customer, await world.plan(2_000)), start, end)
    [invoice] = (await api.ok("GET", "/api/v1/invoices", params={"external_customer_id": customer["external_id"]})
                 )["invoices"]
    assert invoice["status"] == "finalized" and invoice["payment_dispute_lost_at"] is None
    return invoice


def dispute_lost(world, invoice: dict, customer_id: str, external_customer_id: str):
    return world.envelope("payment.dispute_lost", "payment", uuid.uuid4(), {"payment": {
        "lago_id": str(uuid.uuid4()), "lago_customer_id": customer_id, "external_customer_id": external_customer_id,
        "invoice_ids": [invoice["lago_id"]], "lago_payable_id": invoice["lago_id"], "amount_cents": 2_000,
        "amount_currency": "EUR", "status": "succeeded", "payment_status": "succeeded", "type": "provider",
        "dispute": {"provider_dispute_id": "dp_1", "status": "lost", "reason": "fraudulent"},
        "created_at": invoice["created_at"]}})


async def test_lose_dispute_marks_the_invoice_once(world, api, inv, org, make_api):
    invoice = await finalized_invoice(world, api)
    marked = (await api.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/lose_dispute"))["invoice"]
    assert marked["payment_dispute_lost_at"] is not None
    # Lago's official clients send PUT: the same operation
    again = (await api.ok("PUT", f"/api/v1/invoices/{invoice['lago_id']}/lose_dispute"))["invoice"]
    assert again["payment_dispute_lost_at"] == marked["payment_dispute_lost_at"]
    # payments reports the same dispute lost afterwards: nothing more
    await world.deliver(on_payment, dispute_lost(world, invoice, invoice["customer"]["lago_id"],
                                                 invoice["customer"]["external_id"]))
    events = await outbox(inv, org, "invoice.payment_dispute_lost")
    assert [e["invoice"]["lago_id"] for e in events] == [invoice["lago_id"]]
    assert events[0]["invoice"]["payment_dispute_lost_at"] is not None
    fetched = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert fetched["payment_dispute_lost_at"] == marked["payment_dispute_lost_at"]

    other = make_api(uuid.uuid4())
    body = await other.error("POST", f"/api/v1/invoices/{invoice['lago_id']}/lose_dispute", status=404)
    assert body["code"] == "invoice_not_found"
    await api.error("POST", f"/api/v1/invoices/{uuid.uuid4()}/lose_dispute", status=404)
    await api.error("POST", "/api/v1/invoices/not-a-uuid/lose_dispute", status=404)
    assert len(await outbox(inv, org, "invoice.payment_dispute_lost")) == 1


async def test_payments_dispute_lost_event_marks_the_invoice_once_even_redelivered(world, api, inv, org):
    invoice = await finalized_invoice(world, api)
    event = dispute_lost(world, invoice, invoice["customer"]["lago_id"], invoice["customer"]["external_id"])
    await world.deliver(on_payment, event)
    await world.deliver(on_payment, event)  # handled again (a redelivery past the inbox)
    await world.deliver(on_payment, dispute_lost(world, invoice, invoice["customer"]["lago_id"],
                                                 invoice["customer"]["external_id"]))  # replayed under a new id
    fetched = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert fetched["payment_dispute_lost_at"] is not None
    assert len(await outbox(inv, org, "invoice.payment_dispute_lost")) == 1


async def test_a_draft_invoice_is_not_disputable_and_stays_unchanged(world, api, inv, org):
    invoice = await finalized_invoice(world, api)
    async with inv.database.sessionmaker() as session:  # a draft (e.g. in its grace period)
        await session.execute(text("UPDATE invoices SET status = 'draft' WHERE id = :id"), {"id": invoice["lago_id"]})
        await session.commit()
    body = await api.error("POST", f"/api/v1/invoices/{invoice['lago_id']}/lose_dispute", status=405)
    assert body["code"] == "not_disputable"
    # payments' event for it is skipped, not failed (the consumer must not park on it)
    await world.deliver(on_payment, dispute_lost(world, invoice, invoice["customer"]["lago_id"],
                                                 invoice["customer"]["external_id"]))
    fetched = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert fetched["payment_dispute_lost_at"] is None
    assert await outbox(inv, org, "invoice.payment_dispute_lost") == []
