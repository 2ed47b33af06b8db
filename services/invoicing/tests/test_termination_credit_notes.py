"""The credit note of a terminated (or upgraded) subscription's unused advance fee (Lago's
`CreditNotes::CreateFromTermination`): `on_termination_credit_note` = credit / refund / offset / skip, the note
numbered on the advance fee's invoice, the refund through payments' refund path, the offset on what the invoice
owes, once per subscription under redelivery and races; the maths under hypothesis.

100.00 € monthly paid in advance from 1 January (calendar, UTC), VAT 20 %: the advance invoice is 120.00 €.
Terminated on 15 January 10:00: 15 days used (the termination's day counts), 16 unused: the item is
100.00 × 16/31 = 51.6129 → 51.61 €, VAT 10.322 → 10.32 €, the note 61.93 €. The used days are worth
100.00 × 15/31 × 1.2 = 58.06 €."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from invoicing.credit_notes import amounts
from invoicing.invoices.consumer import on_subscription_event
from invoicing.invoices.payments_consumer import on_payment

from .conftest import charge, charge_usage  # noqa: TID252
from .test_credit_note_refunds import paid, requests  # noqa: TID252
from .test_plan_change import FEB, JAN, UPGRADE, all_invoices, new_subscription, started, upgrade  # noqa: TID252

TERMINATED = UPGRADE  # 15 January 10:00
NOTE = 6_193


async def advance_paid(world, api, choice: str | None, paid_cents: int = 0):
    """A customer on the plan, its advance invoice (paid `paid_cents` by a provider payment), then terminated."""
    await world.tax("vat20", "20")
    customer = await world.customer(tax_codes=["vat20"])
    calls = charge("api_calls", properties={"amount": "1"})
    plan = await world.plan(10_000, pay_in_advance=True, charges=[calls])
    sub = world.subscription(customer, plan, started_at=JAN.isoformat(), subscription_at=JAN.isoformat(),
                             current_billing_period_started_at=JAN.isoformat(),
                             current_billing_period_ending_at=(FEB - timedelta(seconds=1)).isoformat())
    await world.deliver(on_subscription_event, started(world, sub, JAN))
    [first] = [i for i in await all_invoices(api) if i["lago_subscription_id"] == sub["lago_id"]]
    assert first["total_amount_cents"] == 12_000
    if paid_cents:
        await world.deliver(on_payment, paid(world, first, paid_cents, uuid.uuid4()))
    ended = {**sub, "status": "terminated", "terminated_at": TERMINATED.isoformat(),
             "on_termination_credit_note": choice}
    envelope = world.period_ended(ended, JAN, TERMINATED, reason="termination", full=(JAN, FEB),
                                  usage=[charge_usage(calls, "3")])
    return sub, first, envelope


async def notes_of(api, invoice: dict) -> list[dict]:
    return (await api.ok("GET", "/api/v1/credit_notes", params={"invoice_id": invoice["lago_id"]}))["credit_notes"]


def split(note: dict) -> tuple[int, int, int, int]:
    return (note["total_amount_cents"], note["credit_amount_cents"], note["refund_amount_cents"],
            note["offset_amount_cents"])


async def test_credit_makes_a_numbered_note_on_the_advance_invoice_once_under_redelivery_and_races(world, api, inv,
                                                                                                    org):
    sub, first, envelope = await advance_paid(world, api, None)
    await asyncio.gather(*(world.deliver(on_subscription_event, envelope) for _ in range(3)))
    [note] = await notes_of(api, first)
    assert split(note) == (NOTE, NOTE, 0, 0)
    assert (note["number"], note["reason"], note["credit_status"]) == (
        f"{first['number']}-CN1", "order_cancellation", "available")
    [item] = note["items"]
    [fee] = (await api.ok("GET", f"/api/v1/invoices/{first['lago_id']}"))["invoice"]["fees"]
    assert (item["amount_cents"], item["fee"]["lago_id"]) == (5_161, fee["lago_id"])
    assert (note["taxes_amount_cents"], note["sub_total_excluding_taxes_amount_cents"]) == (1_032, 5_161)
    # the termination's invoice (3 calls, 3.00 € + 0.60 €) consumed 3.60 € of the note's credit
    closing = [i for i in await all_invoices(api) if i["lago_subscription_id"] == sub["lago_id"]][1]
    assert (closing["credit_notes_amount_cents"], closing["total_amount_cents"]) == (360, 0)
    assert (await api.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"][
        "balance_amount_cents"] == NOTE - 360
    async with inv.database.sessionmaker() as session:
        events = list((await session.execute(text(
            "SELECT event_type FROM outbox_events WHERE envelope->>'organization_id' = :o AND event_type LIKE "
            "'credit_note.%' ORDER BY position"), {"o": str(org)})).scalars())
    assert events == ["credit_note.created"]  # `credit_note.generated` follows its PDF (documents)
    # delivered again under new event ids (replayed closes), two at once: still one note (the invoice's lock, then
    # the unique subscription)
    await asyncio.gather(*(world.deliver(on_subscription_event, world.envelope(
        envelope.type, "subscription", sub["lago_id"], envelope.data, occurred_at=envelope.occurred_at))
        for _ in range(2)))
    assert len(await notes_of(api, first)) == 1


async def test_refund_gives_back_what_was_paid_for_the_unused_days_through_payments(world, api, inv, org):
    # paid in full: what was paid of the fee (120.00) less the used days (58.06) covers the note: all refunded
    _, first, envelope = await advance_paid(world, api, "refund", paid_cents=12_000)
    await world.deliver(on_subscription_event, envelope)
    [note] = await notes_of(api, first)
    assert split(note) == (NOTE, 0, NOTE, 0)
    assert (note["refund_status"], note["credit_status"]) == ("pending", None)
    [request] = await requests(inv, org)
    assert (request["amount_cents"], request["lago_credit_note_id"]) == (NOTE, note["lago_id"])


async def test_refund_of_a_half_paid_invoice_refunds_the_paid_rest_and_credits_the_unpaid(world, api, inv, org):
    # 60.00 paid of 120.00: 60.00 − 58.06 used = 1.94 refunded, 59.99 credited
    _, first, envelope = await advance_paid(world, api, "refund", paid_cents=6_000)
    await world.deliver(on_subscription_event, envelope)
    [note] = await notes_of(api, first)
    assert split(note) == (NOTE, NOTE - 194, 194, 0)
    assert [r["amount_cents"] for r in await requests(inv, org)] == [194]


async def test_offset_of_an_unpaid_invoice_reduces_what_it_owes(world, api, inv, org):
    _, first, envelope = await advance_paid(world, api, "offset")
    await world.deliver(on_subscription_event, envelope)
    [note] = await notes_of(api, first)
    assert split(note) == (NOTE, 0, 0, NOTE)
    invoice = (await api.ok("GET", f"/api/v1/invoices/{first['lago_id']}"))["invoice"]
    assert invoice["total_due_amount_cents"] == 12_000 - NOTE
    assert await requests(inv, org) == []


async def test_offset_of_a_paid_invoice_refunds(world, api, inv, org):
    _, first, envelope = await advance_paid(world, api, "offset", paid_cents=12_000)
    await world.deliver(on_subscription_event, envelope)
    [note] = await notes_of(api, first)
    assert split(note) == (NOTE, 0, NOTE, 0)


async def test_skip_makes_no_note(world, api, inv, org):
    sub, first, envelope = await advance_paid(world, api, "skip")
    await world.deliver(on_subscription_event, envelope)
    assert await notes_of(api, first) == []
    closing = [i for i in await all_invoices(api) if i["lago_subscription_id"] == sub["lago_id"]][1]
    assert closing["total_amount_cents"] == 360


async def test_an_upgrade_makes_a_credit_only_note_whatever_the_choice(world, api, inv, org):
    await world.tax("vat20", "20")
    customer = await world.customer(tax_codes=["vat20"])
    plan_a = await world.plan(10_000, pay_in_advance=True)
    plan_b = await world.plan(20_000, pay_in_advance=True)
    old = world.subscription(customer, plan_a, "sub_up", started_at=JAN.isoformat(), subscription_at=JAN.isoformat(),
                             current_billing_period_started_at=JAN.isoformat(),
                             current_billing_period_ending_at=(FEB - timedelta(seconds=1)).isoformat(),
                             on_termination_credit_note="refund")
    await world.deliver(on_subscription_event, started(world, old, JAN))
    [first] = await all_invoices(api)
    await world.deliver(on_payment, paid(world, first, 12_000, uuid.uuid4()))
    new = new_subscription(world, customer, plan_b, old, UPGRADE, FEB)
    await world.deliver(on_subscription_event, upgrade(world, old, new, UPGRADE, previous_start=JAN,
                                                       previous_end=FEB, next_end=FEB, full=(JAN, FEB)))
    [note] = await notes_of(api, first)
    # the upgrade's day is the new plan's: 17 unused days, 100.00 × 17/31 = 54.84 + 10.97 = 65.81, credited
    assert split(note) == (6_581, 6_581, 0, 0)
    assert await requests(inv, org) == []
    upgraded = (await all_invoices(api))[-1]
    assert upgraded["credit_notes_amount_cents"] == 6_581


async def test_trial_days_were_not_billed_so_they_are_not_credited(world, api, inv, org):
    """A trial to 20 January: the advance fee billed 20–31 January (12/31 of 100.00 = 38.71); terminated on
    15 January, the unused days start at the fee's first billed day: the whole fee comes back, never more."""
    customer = await world.customer()
    plan = await world.plan(10_000, pay_in_advance=True)
    trial_end = JAN + timedelta(days=19)
    sub = world.subscription(customer, plan, started_at=JAN.isoformat(), subscription_at=JAN.isoformat(),
                             trial_ends_at=trial_end.isoformat(), current_billing_period_started_at=JAN.isoformat(),
                             current_billing_period_ending_at=(FEB - timedelta(seconds=1)).isoformat())
    await world.deliver(on_subscription_event, started(world, sub, JAN))
    [first] = await all_invoices(api)
    assert first["total_amount_cents"] == 3_871
    ended = {**sub, "status": "terminated", "terminated_at": TERMINATED.isoformat()}
    envelope = world.period_ended(ended, JAN, TERMINATED, reason="termination", full=(JAN, FEB),
                                  in_trial_until=trial_end.isoformat())
    await world.deliver(on_subscription_event, envelope)
    [note] = await notes_of(api, first)
    assert split(note) == (3_871, 3_871, 0, 0)


# -- the maths ------------------------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(plan=st.integers(min_value=1, max_value=10**8), days=st.integers(min_value=1, max_value=366),
       rate=st.sampled_from(["0", "5.5", "20", "27"]), choice=st.sampled_from([None, "credit", "refund", "offset"]),
       data=st.data())
def test_the_note_never_credits_more_than_the_fee_and_its_parts_add_up(plan, days, rate, choice, data):
    billed = data.draw(st.integers(min_value=1, max_value=days))
    remaining = data.draw(st.integers(min_value=0, max_value=billed))
    fee_cents = plan if billed == days else int((Decimal(plan) * billed / days).quantize(Decimal(1), ROUND_HALF_UP))
    coupons = Decimal(data.draw(st.integers(min_value=0, max_value=fee_cents)))
    already = data.draw(st.integers(min_value=0, max_value=fee_cents))
    fee = amounts.CreditableFee(fee_id=uuid.uuid4(), amount_cents=fee_cents, precise_coupons_amount_cents=coupons,
                                already_credited_cents=already,
                                taxes=(amounts.FeeTax("vat", "VAT", Decimal(rate)),))
    item = amounts.unused_item_cents(plan_amount_cents=plan, days_in_period=days, remaining_days=remaining,
                                     creditable_cents=fee.creditable_cents)
    # the item: the unused days' exact amount to the half minor unit, never more than the fee has left
    assert 0 <= item <= fee_cents - already
    exact = Decimal(plan) * remaining / days
    assert item == min(int(exact.quantize(Decimal(1), ROUND_HALF_UP)), fee_cents - already)
    if item == 0:
        return
    note = amounts.compute({fee.fee_id: fee}, [(fee.fee_id, item)])
    whole = amounts.compute({fee.fee_id: fee}, [(fee.fee_id, fee.creditable_cents)])
    # never more than a note crediting everything the fee has left (what was paid for it, taxes included)
    assert 0 <= note.total_amount_cents <= whole.total_amount_cents
    refund_cap = data.draw(st.integers(min_value=-10**9, max_value=10**9))
    offset_cap = data.draw(st.integers(min_value=0, max_value=10**9))
    credit, refund, offset = amounts.split_unused(note.total_amount_cents, choice, refund_cap_cents=refund_cap,
                                                  offset_cap_cents=offset_cap)
    assert credit + refund + offset == note.total_amount_cents
    assert min(credit, refund, offset) >= 0
    assert refund <= max(refund_cap, 0) and offset <= offset_cap
    if choice in (None, "credit"):
        assert (refund, offset) == (0, 0)
    if choice == "refund":
        assert offset == 0


@settings(max_examples=300, deadline=None)
@given(fee_total=st.integers(min_value=0, max_value=10**9), data=st.data())
def test_the_paid_share_of_a_fee_is_at_most_the_fee_and_what_was_paid(fee_total, data):
    invoice_total = data.draw(st.integers(min_value=fee_total, max_value=10**9 + fee_total))
    paid_cents = data.draw(st.integers(min_value=0, max_value=invoice_total))
    share = amounts.paid_share(fee_total_precise_cents=Decimal(fee_total),
                               invoice_sub_total_including_taxes_cents=invoice_total, invoice_paid_cents=paid_cents)
    assert 0 <= share <= min(fee_total, paid_cents)
    if paid_cents == invoice_total:
        assert share == fee_total
