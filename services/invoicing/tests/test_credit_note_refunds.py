"""Credit notes' refund part: what was paid (from `payment.succeeded`, once per payment) caps the refunds
(less earlier notes' refunds, failed ones aside), `credit + refund = total`, the request to payments
(`credit_note.refund_requested`), and `refund.succeeded|failed` setting `refund_status` exactly once."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from invoicing.credit_notes import amounts
from invoicing.credit_notes.consumer import on_refund
from invoicing.invoices.payments_consumer import on_payment

from .test_credit_notes import JAN, fee_ids, one_off, outbox  # noqa: TID252


def paid(world, invoice: dict, amount: int, payment_id: uuid.UUID, event_type: str = "payment.succeeded"):
    status = event_type.split(".")[1]
    return world.envelope(event_type, "payment", payment_id, {"payment": {
        "lago_id": str(payment_id), "lago_customer_id": str(uuid.uuid4()), "external_customer_id": "cus_1",
        "invoice_ids": [invoice["lago_id"]], "lago_payable_id": invoice["lago_id"], "amount_cents": amount,
        "amount_currency": "EUR", "status": status, "payment_status": status, "type": "provider",
        "paid_at": JAN.isoformat(), "created_at": JAN.isoformat()}})


def refund(world, note: dict, payment_id: uuid.UUID, event_type: str, key: str, amount: int | None = None):
    """Payments' `refund.*` for one part of the note's refund (`key`: the part's id)."""
    status = event_type.split(".")[1]
    return world.envelope(event_type, "refund", uuid.uuid4(), {"refund": {
        "lago_id": str(uuid.uuid4()), "lago_payment_id": str(payment_id), "lago_invoice_id": note["lago_invoice_id"],
        "lago_customer_id": str(uuid.uuid4()), "external_customer_id": "cus_1",
        "amount_cents": amount or note["refund_amount_cents"], "amount_currency": "EUR", "reason": "credit note",
        "status": status, "idempotency_key": key, "created_at": JAN.isoformat()}})


async def parts(inv, note: dict) -> list[tuple[str, str, int, str]]:
    """The note's refund parts: (id, payment, amount, status), in the order they were split."""
    async with inv.database.sessionmaker() as session:
        return [tuple(row) for row in (await session.execute(text(
            "SELECT id::text, payment_id::text, amount_cents, status FROM credit_note_refunds "
            "WHERE credit_note_id = :id ORDER BY id"), {"id": note["lago_id"]})).all()]


async def requests(inv, org) -> list[dict]:
    async with inv.database.sessionmaker() as session:
        return list((await session.execute(text(
            "SELECT envelope->'data' FROM outbox_events WHERE envelope->>'organization_id' = :org "
            "AND event_type = 'credit_note.refund_requested' ORDER BY position"), {"org": str(org)})).scalars())


async def estimate(api, invoice: dict, items: list[dict]) -> dict:
    return (await api.ok("POST", "/api/v1/credit_notes/estimate", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": items}}))["estimated_credit_note"]


def test_the_refund_cap_is_what_all_payments_have_left_at_most_the_total():
    a, b = uuid.uuid4(), uuid.uuid4()  # b is the newer payment: listed first
    assert amounts.max_refundable(5_000, {}) == 0
    assert amounts.max_refundable(9_000, {b: 4_000, a: 3_000}) == 7_000
    assert amounts.max_refundable(2_000, {b: 4_000, a: 3_000}) == 2_000
    assert amounts.max_refundable(2_000, {a: -10}) == 0
    assert amounts.refund_parts({b: 4_000, a: 3_000}, 3_000) == [(b, 3_000)]
    assert amounts.refund_parts({b: 4_000, a: 3_000}, 4_001) == [(b, 4_000), (a, 1)]
    assert amounts.refund_parts({b: 0, a: 3_000}, 3_000) == [(a, 3_000)]
    assert amounts.refund_parts({b: 4_000, a: 3_000}, 7_001) == []
    assert amounts.refund_status(["succeeded", "pending"]) == "pending"
    assert amounts.refund_status(["succeeded", "failed"]) == "failed"
    assert amounts.refund_status(["succeeded", "succeeded"]) == "succeeded"


async def test_refunds_are_capped_by_what_was_paid_and_follow_the_refund_events(world, api, inv, org):
    invoice = await one_off(world, api)  # 147.50 € total
    setup, training = fee_ids(invoice)
    url = "/api/v1/credit_notes"
    # nothing paid yet: nothing refundable
    assert (await estimate(api, invoice, [{"fee_id": setup, "amount_cents": 10_000}]))[
        "max_refundable_amount_cents"] == 0
    body = await api.error("POST", url, {"credit_note": {"invoice_id": invoice["lago_id"], "refund_amount_cents": 100,
                                                        "items": [{"fee_id": setup, "amount_cents": 1_000}]}})
    assert body["error_details"] == {"refund_amount_cents": ["higher_than_remaining_invoice_amount"]}
    # 100.00 € paid, the event delivered twice: counted once; a failed payment counts nothing
    payment = uuid.uuid4()
    await world.deliver(on_payment, paid(world, invoice, 10_000, payment))
    await world.deliver(on_payment, paid(world, invoice, 10_000, payment))
    await world.deliver(on_payment, paid(world, invoice, 4_750, uuid.uuid4(), "payment.failed"))
    # setup 100.00 + 20 % = 120.00 € creditable, but only 100.00 € paid
    got = await estimate(api, invoice, [{"fee_id": setup, "amount_cents": 10_000}])
    assert (got["max_creditable_amount_cents"], got["max_refundable_amount_cents"]) == (12_000, 10_000)
    assert (await estimate(api, invoice, [{"fee_id": setup, "amount_cents": 1_000}]))[
        "max_refundable_amount_cents"] == 1_200
    # credit + refund must make the total
    body = await api.error("POST", url, {"credit_note": {
        "invoice_id": invoice["lago_id"], "credit_amount_cents": 100, "refund_amount_cents": 100,
        "items": [{"fee_id": setup, "amount_cents": 1_000}]}})
    assert body["error_details"] == {"credit_amount_cents": ["does_not_match_item_amounts"]}
    # 80.00 € refunded, 16.00 € credited (96.00 € total)
    first = (await api.ok("POST", url, {"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 8_000,
        "items": [{"fee_id": setup, "amount_cents": 8_000}]}}))["credit_note"]
    assert (first["total_amount_cents"], first["credit_amount_cents"], first["refund_amount_cents"],
            first["balance_amount_cents"], first["credit_status"], first["refund_status"]) == (
        9_600, 1_600, 8_000, 1_600, "available", "pending")
    [(first_part, _, _, _)] = await parts(inv, first)
    assert await requests(inv, org) == [{
        "lago_credit_note_id": first["lago_id"], "lago_invoice_id": invoice["lago_id"],
        "lago_payment_id": str(payment), "amount_cents": 8_000, "currency": "EUR",
        "reason": f"credit_note {first['number']}: other", "idempotency_key": first_part}]
    # 20.00 € left to refund: training 25.00 € + 10 % = 27.50 € may not all be refunded
    assert (await estimate(api, invoice, [{"fee_id": training, "amount_cents": 2_500}]))[
        "max_refundable_amount_cents"] == 2_000
    body = await api.error("POST", url, {"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 2_001,
        "items": [{"fee_id": training, "amount_cents": 2_500}]}})
    assert body["error_details"] == {"refund_amount_cents": ["higher_than_remaining_invoice_amount"]}
    # a refund-only note: no credit, no credit status, no customer credit
    second = (await api.ok("POST", url, {"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 1_100, "credit_amount_cents": 0,
        "items": [{"fee_id": training, "amount_cents": 1_000}]}}))["credit_note"]
    assert (second["credit_amount_cents"], second["refund_amount_cents"], second["credit_status"],
            second["balance_amount_cents"], second["refund_status"]) == (0, 1_100, None, 0, "pending")
    assert (await estimate(api, invoice, [{"fee_id": training, "amount_cents": 1_500}]))[
        "max_refundable_amount_cents"] == 900

    # the outcomes, each delivered twice: exactly one transition, one refund_failure
    [(second_part, _, _, _)] = await parts(inv, second)
    for _ in range(2):
        await world.deliver(on_refund, refund(world, first, payment, "refund.succeeded", first_part))
        await world.deliver(on_refund, refund(world, second, payment, "refund.failed", second_part))
    await world.deliver(on_refund, refund(world, first, payment, "refund.failed", first_part))  # late: success stays
    await world.deliver(on_refund, refund(world, first, payment, "refund.succeeded", key="by-hand-refund"))
    assert (await api.ok("GET", f"{url}/{first['lago_id']}"))["credit_note"]["refund_status"] == "succeeded"
    assert (await api.ok("GET", f"{url}/{second['lago_id']}"))["credit_note"]["refund_status"] == "failed"
    assert await outbox(inv, org, "credit_note.refund_failure") == ["credit_note.refund_failure"]
    # the failed refund gave nothing back: its 11.00 € are refundable again
    assert (await estimate(api, invoice, [{"fee_id": training, "amount_cents": 1_500}]))[
        "max_refundable_amount_cents"] == 1_650
    async with inv.database.sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM customer_credits"))).scalar_one() == 1
        assert (await session.execute(text("SELECT count(*), sum(amount_cents) FROM invoice_payments"))).one() == (
            1, 10_000)


async def test_another_organizations_refund_event_changes_nothing(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    payment = uuid.uuid4()
    await world.deliver(on_payment, paid(world, invoice, 14_750, payment))
    note = (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 600,
        "items": [{"fee_id": setup, "amount_cents": 500}]}}))["credit_note"]
    [(part, _, _, _)] = await parts(inv, note)
    foreign = refund(world, note, payment, "refund.failed", part)
    foreign = foreign.model_copy(update={"organization_id": uuid.uuid4()})
    await world.deliver(on_refund, foreign)
    assert (await api.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]["refund_status"] == \
        "pending"
    assert await outbox(inv, org, "credit_note.refund_failure") == []


async def test_concurrent_refunds_never_exceed_what_was_paid(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    await world.deliver(on_payment, paid(world, invoice, 10_000, uuid.uuid4()))
    # each asks 36.00 € back (30.00 € + 20 %); the fee would take three, the 100.00 € paid only two
    answers = await asyncio.gather(*(api.client.post("/api/v1/credit_notes", json={"credit_note": {
        "invoice_id": invoice["lago_id"], "refund_amount_cents": 3_600,
        "items": [{"fee_id": setup, "amount_cents": 3_000}]}}) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 422, 422, 422]
    assert {tuple(a.json()["error_details"]) for a in answers if a.status_code == 422} == {("refund_amount_cents",)}
    assert [r["amount_cents"] for r in await requests(inv, org)] == [3_600, 3_600]
