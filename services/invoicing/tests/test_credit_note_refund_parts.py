"""A credit note's refund split over several payments of its invoice: newest payment first, each part at
most what is left of its payment, one `credit_note.refund_requested` per part (idempotency key: the part's
id), the note's `refund_status` following all its parts, Σ parts = the refund enforced by the database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from invoicing.credit_notes import amounts
from invoicing.credit_notes.consumer import on_refund
from invoicing.invoices.payments_consumer import on_payment

from .test_credit_note_refunds import estimate, parts, refund, requests  # noqa: TID252
from .test_credit_notes import JAN, fee_ids, one_off, outbox  # noqa: TID252

URL = "/api/v1/credit_notes"


def paid_at(world, invoice: dict, amount: int, payment_id: uuid.UUID, days: int):
    at = (JAN + timedelta(days=days)).isoformat()
    return world.envelope("payment.succeeded", "payment", payment_id, {"payment": {
        "lago_id": str(payment_id), "lago_customer_id": str(uuid.uuid4()), "external_customer_id": "cus_1",
        "invoice_ids": [invoice["lago_id"]], "lago_payable_id": invoice["lago_id"], "amount_cents": amount,
        "amount_currency": "EUR", "status": "succeeded", "payment_status": "succeeded", "type": "manual",
        "paid_at": at, "created_at": at}})


async def two_payments(world, api) -> tuple[dict, uuid.UUID, uuid.UUID]:
    """147.50 € paid in two: 50.00 € on 1 January (older), 97.50 € on 5 January (newer)."""
    invoice = await one_off(world, api)
    older, newer = uuid.uuid4(), uuid.uuid4()
    await world.deliver(on_payment, paid_at(world, invoice, 5_000, older, 0))
    await world.deliver(on_payment, paid_at(world, invoice, 9_750, newer, 4))
    return invoice, older, newer


async def test_a_refund_above_any_one_payment_is_split_newest_first(world, api, inv, org):
    invoice, older, newer = await two_payments(world, api)
    setup, training = fee_ids(invoice)
    # 120.00 € back: more than either payment, less than both
    assert (await estimate(api, invoice, [{"fee_id": setup, "amount_cents": 10_000}]))[
        "max_refundable_amount_cents"] == 12_000
    note = (await api.ok("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 12_000,
        "items": [{"fee_id": setup, "amount_cents": 10_000}]}}))["credit_note"]
    assert (note["refund_amount_cents"], note["credit_amount_cents"], note["refund_status"]) == (12_000, 0, "pending")
    split = await parts(inv, note)
    assert [(payment, amount, status) for _, payment, amount, status in split] == [
        (str(newer), 9_750, "pending"), (str(older), 2_250, "pending")]
    asked = await requests(inv, org)
    assert [(r["lago_payment_id"], r["amount_cents"], r["idempotency_key"]) for r in asked] == [
        (payment, amount, part) for part, payment, amount, _ in split]
    assert {r["lago_credit_note_id"] for r in asked} == {note["lago_id"]}
    # the newer payment's part succeeds (twice delivered): the note waits for the other part
    (newer_part, *_), (older_part, *_) = split
    for _ in range(2):
        await world.deliver(on_refund, refund(world, note, newer, "refund.succeeded", newer_part, 9_750))
    assert (await api.ok("GET", f"{URL}/{note['lago_id']}"))["credit_note"]["refund_status"] == "pending"
    # the older one fails: the note's refund did not all go back → failed, one refund_failure
    for _ in range(2):
        await world.deliver(on_refund, refund(world, note, older, "refund.failed", older_part, 2_250))
    assert (await api.ok("GET", f"{URL}/{note['lago_id']}"))["credit_note"]["refund_status"] == "failed"
    assert await outbox(inv, org, "credit_note.refund_failure") == ["credit_note.refund_failure"]
    assert [status for *_, status in await parts(inv, note)] == ["succeeded", "failed"]
    # what failed is refundable again, what succeeded is not: 50.00 € of the older payment are left
    assert (await estimate(api, invoice, [{"fee_id": training, "amount_cents": 2_500}]))[
        "max_refundable_amount_cents"] == 2_750
    second = (await api.ok("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 2_750,
        "items": [{"fee_id": training, "amount_cents": 2_500}]}}))["credit_note"]
    [(part, payment, amount, _)] = await parts(inv, second)
    assert (payment, amount) == (str(older), 2_750)
    await world.deliver(on_refund, refund(world, second, older, "refund.succeeded", part))
    assert (await api.ok("GET", f"{URL}/{second['lago_id']}"))["credit_note"]["refund_status"] == "succeeded"


async def test_more_than_all_payments_left_is_refused_and_changes_nothing(world, api, inv, org):
    invoice, older, newer = await two_payments(world, api)
    setup, training = fee_ids(invoice)
    await api.ok("POST", URL, {"credit_note": {"invoice_id": invoice["lago_id"], "refund_amount_cents": 12_000,
                                               "items": [{"fee_id": setup, "amount_cents": 10_000}]}})
    # 27.50 € of the fees left, 27.50 € of the payments left: one cent more is refused
    body = await api.error("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 2_751, "credit_amount_cents": 0,
        "items": [{"fee_id": training, "amount_cents": 2_500}]}})
    assert set(body["error_details"]) <= {"refund_amount_cents", "credit_amount_cents"}
    assert len(await requests(inv, org)) == 2


async def test_concurrent_split_refunds_never_exceed_what_was_paid(world, api, inv, org):
    invoice, *_ = await two_payments(world, api)
    setup, training = fee_ids(invoice)
    # each asks 60.00 € back (50.00 € + 20 %): the fee takes two, 147.50 € paid takes two as well;
    # then five asking 11.00 € of training (27.50 € left on the payments, 27.50 € on the fee: two pass)
    first = await asyncio.gather(*(api.client.post(URL, json={"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 6_000,
        "items": [{"fee_id": setup, "amount_cents": 5_000}]}}) for _ in range(3)))
    assert sorted(a.status_code for a in first) == [200, 200, 422]
    second = await asyncio.gather(*(api.client.post(URL, json={"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 1_100,
        "items": [{"fee_id": training, "amount_cents": 1_000}]}}) for _ in range(5)))
    assert sorted(a.status_code for a in second) == [200, 200, 422, 422, 422]
    async with inv.database.sessionmaker() as session:
        by_payment = dict((await session.execute(text(
            "SELECT p.payment_id, p.amount_cents - COALESCE((SELECT SUM(r.amount_cents) FROM credit_note_refunds r "
            "WHERE r.payment_id = p.payment_id), 0) FROM invoice_payments p WHERE p.invoice_id = :id"),
            {"id": invoice["lago_id"]})).all())
    assert all(left >= 0 for left in by_payment.values()) and sum(by_payment.values()) == 14_750 - 14_200


async def test_the_database_refuses_parts_that_do_not_add_up_to_the_refund(world, api, inv, org):
    invoice, older, _ = await two_payments(world, api)
    setup, _ = fee_ids(invoice)
    note = (await api.ok("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 1_200,
        "items": [{"fee_id": setup, "amount_cents": 1_000}]}}))["credit_note"]
    [(part, *_)] = await parts(inv, note)
    async with inv.database.sessionmaker() as session:
        await session.execute(text("UPDATE credit_note_refunds SET amount_cents = 1_100 WHERE id = :id"), {"id": part})
        with pytest.raises(DBAPIError, match="refund_amount_cents"):
            await session.commit()
    async with inv.database.sessionmaker() as session:
        await session.execute(text(
            "INSERT INTO credit_note_refunds (id, organization_id, credit_note_id, invoice_id, payment_id, "
            "amount_cents, status) VALUES (:id, :org, :note, :invoice, :payment, 5, 'pending')"),
            {"id": uuid.uuid4(), "org": org, "note": note["lago_id"], "invoice": invoice["lago_id"],
             "payment": older})
        with pytest.raises(DBAPIError, match="refund_amount_cents"):
            await session.commit()
    assert [amount for _, _, amount, _ in await parts(inv, note)] == [1_200]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(-500, 10_000), max_size=6), st.integers(1, 40_000))
def test_the_split_covers_the_refund_exactly_or_not_at_all(lefts, refund_cents):
    payments = {uuid.uuid4(): left for left in lefts}  # newest first
    split = amounts.refund_parts(payments, refund_cents)
    available = sum(max(left, 0) for left in lefts)
    if refund_cents > available:
        assert split == []
        assert amounts.max_refundable(refund_cents, payments) == available < refund_cents
        return
    assert sum(amount for _, amount in split) == refund_cents
    assert all(0 < amount <= payments[payment] for payment, amount in split)
    # newest first: every payment before the last part's was used up (or had nothing left)
    order = list(payments)
    last = order.index(split[-1][0])
    taken = dict(split)
    assert all(taken.get(p, 0) == max(payments[p], 0) for p in order[:last])
    assert [p for p, _ in split] == [p for p in order if p in taken]
