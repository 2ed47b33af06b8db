"""Credit notes' offset part (Lago's `offset_amount_cents`): deducted from what the invoice still owes, never
more than that, `credit + refund + offset = total`; the invoice's `total_due_amount_cents` follows and its
`payment_status` turns `succeeded` (with `invoice.payment_status_updated`) once nothing is owed. The caps
under hypothesis (pure) and a random sequence of notes on real invoices against a brute-force model."""

from __future__ import annotations

import asyncio
import random
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from invoicing.billing.totals import due_cents
from invoicing.credit_notes import amounts
from invoicing.invoices.payments_consumer import on_payment

from .test_credit_note_refunds import estimate, paid  # noqa: TID252
from .test_credit_notes import fee_ids, one_off, outbox  # noqa: TID252

URL = "/api/v1/credit_notes"


async def invoice_of(api, invoice: dict) -> dict:
    return (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]


async def test_an_offset_lowers_what_is_due_and_settles_the_invoice_when_nothing_is_left(world, api, inv, org):
    invoice = await one_off(world, api)  # 147.50 €, nothing paid
    assert (invoice["total_due_amount_cents"], invoice["total_paid_amount_cents"]) == (14_750, 0)
    setup, training = fee_ids(invoice)
    got = await estimate(api, invoice, [{"fee_id": setup, "amount_cents": 10_000}])
    assert (got["max_creditable_amount_cents"], got["max_offsettable_amount_cents"]) == (12_000, 12_000)
    # 60.00 € + 20 %: 50.00 € offset, 22.00 € credited
    note = (await api.ok("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "offset_amount_cents": 5_000,
        "items": [{"fee_id": setup, "amount_cents": 6_000}]}}))["credit_note"]
    assert (note["total_amount_cents"], note["offset_amount_cents"], note["credit_amount_cents"],
            note["refund_amount_cents"], note["credit_status"], note["refund_status"]) == (
        7_200, 5_000, 2_200, 0, "available", None)
    after = await invoice_of(api, invoice)
    assert (after["total_amount_cents"], after["total_due_amount_cents"], after["payment_status"]) == (
        14_750, 9_750, "pending")
    # an offset-only note: no credit, no customer credit
    only = (await api.ok("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "offset_amount_cents": 1_100, "credit_amount_cents": 0,
        "items": [{"fee_id": training, "amount_cents": 1_000}]}}))["credit_note"]
    assert (only["credit_status"], only["balance_amount_cents"], only["offset_amount_cents"]) == (None, 0, 1_100)
    assert (await invoice_of(api, invoice))["total_due_amount_cents"] == 8_650
    # what is left of the fees (40.00 € + 20 %, 15.00 € + 10 %: 64.50 €) is less than what is due (86.50 €)
    got = await estimate(api, invoice, [{"fee_id": setup, "amount_cents": 4_000},
                                        {"fee_id": training, "amount_cents": 1_500}])
    assert (got["max_creditable_amount_cents"], got["max_offsettable_amount_cents"]) == (6_450, 6_450)
    # above the note's total, or refund + offset above it: refused, nothing written
    body = await api.error("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "offset_amount_cents": 4_801,
        "items": [{"fee_id": setup, "amount_cents": 4_000}]}})
    assert body["error_details"] == {"offset_amount_cents": ["higher_than_remaining_invoice_amount"]}
    body = await api.error("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "offset_amount_cents": 4_800, "credit_amount_cents": 1,
        "items": [{"fee_id": setup, "amount_cents": 4_000}]}})
    assert body["error_details"] == {"credit_amount_cents": ["does_not_match_item_amounts"]}
    assert await outbox(inv, org, "invoice.payment_status_updated") == []
    # the rest of the fees offset: 64.50 € of the 86.50 € due; then a 22.00 € payment settles it
    await api.ok("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "offset_amount_cents": 6_450,
        "items": [{"fee_id": setup, "amount_cents": 4_000}, {"fee_id": training, "amount_cents": 1_500}]}})
    after = await invoice_of(api, invoice)
    assert (after["total_due_amount_cents"], after["payment_status"]) == (2_200, "pending")
    async with inv.database.sessionmaker() as session:
        assert (await session.execute(text(
            "SELECT offset_amount_cents, total_paid_amount_cents FROM invoices WHERE id = :id"),
            {"id": invoice["lago_id"]})).one() == (12_550, 0)
        # only the first note had a credit part
        assert (await session.execute(text("SELECT count(*) FROM customer_credits"))).scalar_one() == 1


async def test_offsetting_all_that_is_due_pays_the_invoice_once(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, training = fee_ids(invoice)
    # a failed charge leaves it owed: offsets are allowed
    await world.deliver(on_payment, paid(world, invoice, 14_750, uuid.uuid4(), "payment.failed"))
    assert (await invoice_of(api, invoice))["payment_status"] == "failed"
    await api.ok("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "offset_amount_cents": 14_750,
        "items": [{"fee_id": setup, "amount_cents": 10_000}, {"fee_id": training, "amount_cents": 2_500}]}})
    after = await invoice_of(api, invoice)
    assert (after["total_due_amount_cents"], after["payment_status"], after["payment_overdue"]) == (
        0, "succeeded", False)
    assert await outbox(inv, org, "invoice.payment_status_updated") == ["invoice.payment_status_updated"] * 2
    async with inv.database.sessionmaker() as session:
        body = (await session.execute(text(
            "SELECT envelope->'data'->'invoice' FROM outbox_events WHERE envelope->>'organization_id' = :org "
            "AND event_type = 'invoice.payment_status_updated' ORDER BY position DESC LIMIT 1"),
            {"org": str(org)})).scalar_one()
    assert (body["payment_status"], body["total_due_amount_cents"]) == ("succeeded", 0)
    # a paid invoice has nothing left to offset (and the fees are all credited anyway)
    assert (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]["total_due_amount_cents"] == 0


async def test_a_paid_invoice_takes_no_offset_and_its_paid_amount_is_shown(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, _ = fee_ids(invoice)
    payment = uuid.uuid4()
    for _ in range(2):  # redelivered: counted once
        await world.deliver(on_payment, paid(world, invoice, 14_750, payment))
    after = await invoice_of(api, invoice)
    assert (after["total_paid_amount_cents"], after["total_due_amount_cents"], after["payment_status"]) == (
        14_750, 0, "succeeded")
    assert (await estimate(api, invoice, [{"fee_id": setup, "amount_cents": 1_000}]))[
        "max_offsettable_amount_cents"] == 0
    body = await api.error("POST", URL, {"credit_note": {
        "invoice_id": invoice["lago_id"], "offset_amount_cents": 1,
        "items": [{"fee_id": setup, "amount_cents": 1_000}]}})
    assert body["error_details"] == {"offset_amount_cents": ["higher_than_remaining_invoice_amount"]}


async def test_concurrent_offsets_never_exceed_what_is_due(world, api, inv, org):
    invoice = await one_off(world, api)
    setup, training = fee_ids(invoice)
    # first 100.00 € of the 147.50 € are credited (120.00 € with tax): 27.50 € of the fees left, 147.50 € due
    await api.ok("POST", URL, {"credit_note": {"invoice_id": invoice["lago_id"], "items": [
        {"fee_id": setup, "amount_cents": 10_000}]}})
    # five notes each offsetting 11.00 € of training (10.00 € + 10 %): the fee takes two
    answers = await asyncio.gather(*(api.client.post(URL, json={"credit_note": {
        "invoice_id": invoice["lago_id"], "offset_amount_cents": 1_100,
        "items": [{"fee_id": training, "amount_cents": 1_000}]}}) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 422, 422, 422]
    assert (await invoice_of(api, invoice))["total_due_amount_cents"] == 14_750 - 2_200


# -- the caps, pure --------------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(total=st.integers(0, 10**7), paid_cents=st.integers(0, 10**7), offset=st.integers(0, 10**7),
       status=st.sampled_from(["finalized", "voided"]),
       payment_status=st.sampled_from(["pending", "failed", "succeeded"]))
def test_what_is_due_is_never_negative_and_nothing_once_voided_or_paid(total, paid_cents, offset, status,
                                                                      payment_status):
    due = due_cents(total_cents=total, paid_cents=paid_cents, offset_cents=offset, status=status,
                    payment_status=payment_status)
    assert 0 <= due <= total
    if status == "voided" or payment_status == "succeeded":
        assert due == 0
    else:
        assert due == max(total - paid_cents - offset, 0)


@settings(max_examples=500, deadline=None)
@given(total=st.integers(1, 10**6), due=st.integers(0, 10**6), refund=st.integers(0, 10**6),
       offset=st.integers(0, 10**6), credit=st.none() | st.integers(0, 10**6))
def test_the_parts_always_make_the_total_and_the_offset_never_exceeds_what_is_due(total, due, refund, offset,
                                                                                   credit):
    cap = amounts.max_offsettable(total, due)
    assert cap == min(total, due)
    split = amounts.split_total(total, credit, refund, offset)
    if split is None:
        assert credit is not None and credit + refund + offset != total or refund + offset > total
    else:
        assert split >= 0 and split + refund + offset == total
        assert credit is None or split == credit
    accepted = split is not None and offset <= cap
    if accepted:  # what a created note may deduct: never more than owed nor than its own total
        assert offset <= due and offset <= total


async def test_random_notes_keep_the_invoice_due_equal_to_a_brute_force_model(world, api, inv, org):
    """Random notes (credit, refund-free, offset parts) on fresh invoices: each is accepted exactly when the
    model says so, and the invoice's `total_due_amount_cents` and `payment_status` match the model's."""
    rng = random.Random(20261202)
    outcomes = {True: 0, False: 0}
    for round_ in range(3):
        invoice = await one_off(world, api, customer=f"cus_rand_{round_}")
        fees = {fee["lago_id"]: (fee["amount_cents"], 20 if fee["item"]["code"] == "setup" else 10)
                for fee in invoice["fees"]}
        credited = dict.fromkeys(fees, 0)
        notes_total, offsets, status = 0, 0, "pending"
        for _ in range(6):
            fee_id = rng.choice(list(fees))
            amount, rate = fees[fee_id]
            item = rng.randint(1, max(amount // 2, 1))
            total = item + (item * rate + 50) // 100  # one fee, one rate: half up
            offset = rng.choice([0, rng.randint(0, total), total, total + 1])
            due = 0 if status == "succeeded" else invoice["total_amount_cents"] - offsets
            ok = (credited[fee_id] + item <= amount and notes_total + total <= invoice["total_amount_cents"]
                  and offset <= min(total, due))
            answer = await api.client.post(URL, json={"credit_note": {
                "invoice_id": invoice["lago_id"], "offset_amount_cents": offset,
                "items": [{"fee_id": fee_id, "amount_cents": item}]}})
            assert (answer.status_code == 200) == ok, (answer.status_code, answer.json(), ok)
            outcomes[ok] += 1
            if ok:
                assert answer.json()["credit_note"]["total_amount_cents"] == total
                credited[fee_id] += item
                notes_total += total
                offsets += offset
                if invoice["total_amount_cents"] - offsets == 0:
                    status = "succeeded"
            got = await invoice_of(api, invoice)
            expected_due = 0 if status == "succeeded" else invoice["total_amount_cents"] - offsets
            assert (got["total_due_amount_cents"], got["payment_status"]) == (expected_due, status)
    assert outcomes[True] >= 3 and outcomes[False] >= 3, outcomes  # both sides of the caps were exercised
