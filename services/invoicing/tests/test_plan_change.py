"""Plan changes (`subscription.plan_changed`): an upgrade credits the unused days of a fee paid in advance and
bills the new plan prorated; the credit is consumed by the customer's next invoices after taxes; a
downgrade waits for the period's end. Lago's documented example reproduced; credit maths property-tested."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from invoicing.billing.compute import FeeLine, compute_invoice
from invoicing.billing.credits import CreditBalance, allocate, unused_fee_credit
from invoicing.billing.taxes import TaxRate
from invoicing.invoices.consumer import on_subscription_event

from .conftest import charge, charge_usage  # noqa: TID252

JAN = datetime(2026, 1, 1, tzinfo=UTC)
UPGRADE = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)  # 15 January, mid-day
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
NEXT_YEAR = datetime(2027, 1, 1, tzinfo=UTC)


async def all_invoices(api) -> list[dict]:
    found = (await api.ok("GET", "/api/v1/invoices", params={"per_page": 100}))["invoices"]
    return sorted(found, key=lambda i: (i["created_at"], i["lago_id"]))


async def full(api, invoice: dict) -> dict:
    return (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]


async def credits_of(inv, org) -> list[tuple[int, int]]:
    async with inv.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT amount_cents, balance_cents FROM customer_credits WHERE organization_id = :org "
            "ORDER BY created_at"), {"org": str(org)})).all()
    return [(row[0], row[1]) for row in rows]


def started(world, sub: dict, at: datetime, reason: str | None = None):
    return world.envelope("subscription.started", "subscription", sub["lago_id"],
                          {"subscription": sub, "reason": reason}, occurred_at=at)


def upgrade(world, old: dict, new: dict, at: datetime, *, previous_start: datetime, previous_end: datetime,
            next_end: datetime, full: tuple[datetime, datetime]):
    data = {"direction": "upgrade", "effective_at": at.isoformat(),
            "previous_subscription": {**old, "status": "terminated", "terminated_at": at.isoformat()},
            "next_subscription": new, "previous_period_start": previous_start.isoformat(),
            "previous_period_end": previous_end.isoformat(), "next_period_end": next_end.isoformat(),
            "next_full_period_start": full[0].isoformat(), "next_full_period_end": full[1].isoformat()}
    return world.envelope("subscription.plan_changed", "subscription", old["lago_id"], data,
                          occurred_at=at + timedelta(seconds=2))


def new_subscription(world, customer, plan, old: dict, at: datetime, period_end: datetime) -> dict:
    return world.subscription(customer, plan, old["external_id"], started_at=at.isoformat(),
                              subscription_at=old["subscription_at"], previous_plan_code=old["plan_code"],
                              current_billing_period_started_at=at.isoformat(),
                              current_billing_period_ending_at=(period_end - timedelta(seconds=1)).isoformat())


async def test_lagos_documented_upgrade_in_arrears(world, api, inv, org):
    """Lago's docs: Plan A (100 €/month, in arrears, calendar) from 1 January, upgraded to Plan B (200 €) on
    15 January: 14/31 × 100 € = 45.16 € on 15 January; Plan B's 17 days (15–31 January) at its period end."""
    customer = await world.customer()
    plan_a, plan_b = await world.plan(10_000), await world.plan(20_000)
    old = world.subscription(customer, plan_a, "sub_up", started_at=JAN.isoformat(), subscription_at=JAN.isoformat())
    await world.close(old, JAN, UPGRADE, reason="plan_change", full=(JAN, FEB))
    new = new_subscription(world, customer, plan_b, old, UPGRADE, FEB)
    await world.deliver(on_subscription_event, started(world, new, UPGRADE, "upgrade"))
    await world.deliver(on_subscription_event, upgrade(world, old, new, UPGRADE, previous_start=JAN,
                                                       previous_end=FEB, next_end=FEB, full=(JAN, FEB)))
    await world.close(new, UPGRADE, FEB, full=(JAN, FEB))
    first, second = await all_invoices(api)
    assert (first["lago_subscription_id"], first["total_amount_cents"]) == (old["lago_id"], 4_516)
    assert (second["lago_subscription_id"], second["total_amount_cents"]) == (new["lago_id"], 10_968)
    assert await credits_of(inv, org) == []  # nothing was paid in advance: nothing to credit


async def test_upgrade_in_advance_credits_the_unused_days_and_the_upgrade_invoice_consumes_them(world, api, inv, org):
    await world.tax("vat20", "20")
    customer = await world.customer(tax_codes=["vat20"])
    calls = charge("api_calls", properties={"amount": "1"})
    plan_a = await world.plan(10_000, pay_in_advance=True, charges=[calls])
    plan_b = await world.plan(20_000, pay_in_advance=True)
    old = world.subscription(customer, plan_a, "sub_up", started_at=JAN.isoformat(), subscription_at=JAN.isoformat(),
                             current_billing_period_started_at=JAN.isoformat(),
                             current_billing_period_ending_at=(FEB - timedelta(seconds=1)).isoformat())
    await world.deliver(on_subscription_event, started(world, old, JAN))
    # the old plan's last period closes at the upgrade: its charges up to then, no subscription fee (paid)
    await world.close(old, JAN, UPGRADE, reason="plan_change", full=(JAN, FEB), usage=[charge_usage(calls, "3")])
    new = new_subscription(world, customer, plan_b, old, UPGRADE, FEB)
    await world.deliver(on_subscription_event, started(world, new, UPGRADE, "upgrade"))  # billed by plan_changed
    change = upgrade(world, old, new, UPGRADE, previous_start=JAN, previous_end=FEB, next_end=FEB, full=(JAN, FEB))
    await asyncio.gather(*(world.deliver(on_subscription_event, change) for _ in range(3)))  # redelivered, racing
    paid, closing, upgraded = await all_invoices(api)
    assert paid["total_amount_cents"] == 12_000  # 100 € + 20 %
    assert (closing["fees_amount_cents"], closing["total_amount_cents"]) == (300, 360)
    # unused: 17 of 31 days (the upgrade's day included) of 100 € = 54.8387 €, + 20 % VAT = 65.81 €
    assert await credits_of(inv, org) == [(6_581, 0)]
    body = await full(api, upgraded)
    assert body["lago_subscription_id"] == new["lago_id"]
    # Plan B: 17/31 × 200 € = 109.68 €, VAT 21.94 €, 131.62 € − the credit 65.81 € = 65.81 €
    assert (body["fees_amount_cents"], body["taxes_amount_cents"], body["sub_total_including_taxes_amount_cents"],
            body["credit_notes_amount_cents"], body["total_amount_cents"]) == (10_968, 2_194, 13_162, 6_581, 6_581)
    [credit] = [c for c in body["credits"] if c["item"]["type"] == "credit_note"]
    assert credit["amount_cents"] == 6_581 and credit["before_taxes"] is False
    fee = body["fees"][0]
    assert fee["amount_details"]["days_billed"] == 17 and fee["amount_details"]["days_in_period"] == 31


async def test_a_credit_larger_than_the_next_invoice_carries_forward_and_a_void_gives_it_back(world, api, inv, org):
    customer = await world.customer()
    yearly = await world.plan(120_000, pay_in_advance=True, interval="yearly")
    monthly = await world.plan(20_000)  # 2,400 €/year ≥ 1,200 €: an upgrade, paid in arrears
    old = world.subscription(customer, yearly, "sub_y", started_at=JAN.isoformat(), subscription_at=JAN.isoformat(),
                             current_billing_period_started_at=JAN.isoformat(),
                             current_billing_period_ending_at=(NEXT_YEAR - timedelta(seconds=1)).isoformat())
    await world.deliver(on_subscription_event, started(world, old, JAN))
    await world.close(old, JAN, UPGRADE, reason="plan_change", full=(JAN, NEXT_YEAR))
    new = new_subscription(world, customer, monthly, old, UPGRADE, FEB)
    await world.deliver(on_subscription_event, upgrade(world, old, new, UPGRADE, previous_start=JAN,
                                                       previous_end=NEXT_YEAR, next_end=FEB, full=(JAN, FEB)))
    # 351 of 365 days of 1,200 € unused = 1,153.97 €; no invoice now (the new plan is paid in arrears)
    assert await credits_of(inv, org) == [(115_397, 115_397)]
    assert len(await all_invoices(api)) == 2
    await world.close(new, UPGRADE, FEB, full=(JAN, FEB))
    await world.close(new, FEB, MAR)
    january, february = (await all_invoices(api))[2:]
    assert (january["fees_amount_cents"], january["credit_notes_amount_cents"], january["total_amount_cents"]) == (
        10_968, 10_968, 0)
    assert (february["credit_notes_amount_cents"], february["total_amount_cents"]) == (20_000, 0)
    assert await credits_of(inv, org) == [(115_397, 115_397 - 10_968 - 20_000)]
    await api.ok("POST", f"/api/v1/invoices/{february['lago_id']}/void")
    assert await credits_of(inv, org) == [(115_397, 115_397 - 10_968)]


async def test_two_drafts_finalized_at_once_never_take_the_same_credit(world, api, inv, org):
    customer = await world.customer(invoice_grace_period=5)
    plan_a = await world.plan(10_000, pay_in_advance=True)
    plan_b = await world.plan(20_000)
    other_plan = await world.plan(9_000)
    old = world.subscription(customer, plan_a, "sub_c", started_at=JAN.isoformat(), subscription_at=JAN.isoformat(),
                             current_billing_period_started_at=JAN.isoformat(),
                             current_billing_period_ending_at=(FEB - timedelta(seconds=1)).isoformat())
    await world.deliver(on_subscription_event, started(world, old, JAN))
    new = new_subscription(world, customer, plan_b, old, UPGRADE, FEB)
    await world.deliver(on_subscription_event, upgrade(world, old, new, UPGRADE, previous_start=JAN,
                                                       previous_end=FEB, next_end=FEB, full=(JAN, FEB)))
    [(credit, _)] = await credits_of(inv, org)
    assert credit == 5_484  # 17/31 of 100 €
    other = world.subscription(customer, other_plan, "sub_other")
    await world.close(new, UPGRADE, FEB, full=(JAN, FEB))
    await world.close(other, JAN, FEB)
    drafts = [i for i in await all_invoices(api) if i["status"] == "draft"]
    assert len(drafts) == 3  # the old plan's advance fee, and two period invoices that both preview the credit
    period_drafts = [d for d in drafts if d["lago_subscription_id"] != old["lago_id"]]
    assert all(d["credit_notes_amount_cents"] == 5_484 for d in period_drafts)
    finalized = await asyncio.gather(*(api.ok("PUT", f"/api/v1/invoices/{d['lago_id']}/finalize")
                                       for d in period_drafts))
    taken = sorted(f["invoice"]["credit_notes_amount_cents"] for f in finalized)
    assert taken == [0, 5_484]  # the second finalizer waited for the lock and found nothing left
    assert await credits_of(inv, org) == [(5_484, 0)]


async def test_a_downgrade_bills_nothing_now_and_the_new_plan_from_the_period_end(world, api, inv, org):
    customer = await world.customer()
    rich = await world.plan(20_000, pay_in_advance=True)
    cheap = await world.plan(5_000, pay_in_advance=True)
    old = world.subscription(customer, rich, "sub_d", started_at=JAN.isoformat(),
                             current_billing_period_started_at=JAN.isoformat(),
                             current_billing_period_ending_at=(FEB - timedelta(seconds=1)).isoformat())
    await world.deliver(on_subscription_event, started(world, old, JAN))
    pending = world.subscription(customer, cheap, "sub_d", status="pending", started_at=None,
                                 previous_plan_code=rich["code"])
    await world.deliver(on_subscription_event, world.envelope("subscription.plan_changed", "subscription",
                                                              old["lago_id"], {
        "direction": "downgrade", "effective_at": FEB.isoformat(), "previous_subscription": old,
        "next_subscription": pending}, occurred_at=UPGRADE))
    assert len(await all_invoices(api)) == 1 and await credits_of(inv, org) == []
    # at the period's end: the old plan closes with no next period (no advance fee of the old plan) ...
    await world.close(old, JAN, FEB)
    # ... and the new subscription's start bills its first full period in advance
    active = {**pending, "status": "active", "started_at": FEB.isoformat(),
              "current_billing_period_started_at": FEB.isoformat(),
              "current_billing_period_ending_at": (MAR - timedelta(seconds=1)).isoformat()}
    await world.deliver(on_subscription_event, started(world, active, FEB + timedelta(seconds=2), "downgrade"))
    totals = [i["total_amount_cents"] for i in await all_invoices(api)]
    assert totals == [20_000, 0, 5_000]


async def test_a_termination_credits_the_days_after_its_own_and_its_invoice_takes_them_first(world, api, inv, org):
    """Lago's credit note on termination (`on_termination_credit_note` = credit, the default): the termination's
    day counts as used; `skip` credits nothing; `refund` of an invoice nothing was paid of credits it all (the
    rest of `refund` and `offset`: test_termination_credit_notes.py)."""
    calls = charge("api_calls", properties={"amount": "1"})
    plan = await world.plan(10_000, pay_in_advance=True, charges=[calls])
    subs = {}
    for choice in (None, "skip", "refund"):
        customer = await world.customer()  # one each: a credit is the customer's, any of its invoices takes it
        sub = world.subscription(customer, plan, started_at=JAN.isoformat(), subscription_at=JAN.isoformat(),
                                 current_billing_period_started_at=JAN.isoformat(),
                                 current_billing_period_ending_at=(FEB - timedelta(seconds=1)).isoformat())
        await world.deliver(on_subscription_event, started(world, sub, JAN))
        ended = {**sub, "status": "terminated", "terminated_at": UPGRADE.isoformat(),
                 "on_termination_credit_note": choice}
        envelope = world.period_ended(ended, JAN, UPGRADE, reason="termination", full=(JAN, FEB),
                                      usage=[charge_usage(calls, "3")])
        await world.deliver(on_subscription_event, envelope)
        await world.deliver(on_subscription_event, envelope)  # redelivered: no second credit
        subs[choice] = sub
    # 16 of 31 days (16–31 January) of 100 € = 51.61 €; the termination's invoice (3.00 €) takes 3.00 € of it
    assert await credits_of(inv, org) == [(5_161, 5_161 - 300)] * 2
    notes = (await api.ok("GET", "/api/v1/credit_notes"))["credit_notes"]
    assert sorted((n["reason"], n["total_amount_cents"], n["credit_amount_cents"], n["refund_amount_cents"])
                  for n in notes) == [("order_cancellation", 5_161, 5_161, 0)] * 2
    by_sub = {}
    for invoice in await all_invoices(api):
        by_sub.setdefault(invoice["lago_subscription_id"], []).append(invoice)
    for choice, total in ((None, 0), ("refund", 0), ("skip", 300)):
        closing = by_sub[subs[choice]["lago_id"]][1]
        assert (closing["fees_amount_cents"], closing["total_amount_cents"]) == (300, total), choice


# -- maths ----------------------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=10**9)


@settings(max_examples=300, deadline=None)
@given(plan=st.integers(min_value=1, max_value=10**9), days=st.integers(min_value=1, max_value=366),
       data=st.data(), rate=st.sampled_from([Decimal(0), Decimal("5.5"), Decimal(20), Decimal("27")]))
def test_the_credit_never_exceeds_what_was_paid_for_the_unused_days(plan, days, data, rate):
    remaining = data.draw(st.integers(min_value=0, max_value=days))
    billed_days = data.draw(st.integers(min_value=remaining, max_value=days))
    fee = plan if billed_days == days else int((Decimal(plan) * billed_days / days).to_integral_value())
    coupons = Decimal(data.draw(st.integers(min_value=0, max_value=fee)))
    credit = unused_fee_credit(plan_amount_cents=plan, days_in_period=days, remaining_days=remaining,
                               fee_amount_cents=fee, fee_coupons_precise_cents=coupons, taxes_rate=rate)
    paid = (Decimal(fee) - coupons) * (1 + rate / 100)
    assert 0 <= credit <= int(paid.to_integral_value(rounding="ROUND_HALF_UP"))
    if remaining == 0:
        assert credit == 0
    exact = (min(Decimal(plan) * remaining / days, Decimal(fee)) * (1 - coupons / fee if fee else 0)
             * (1 + rate / 100)) if fee else Decimal(0)
    assert abs(Decimal(credit) - exact) <= Decimal("0.5")


@settings(max_examples=300, deadline=None)
@given(balances=st.lists(st.integers(min_value=0, max_value=10**7), max_size=6), amount=cents)
def test_allocation_takes_oldest_first_and_never_more_than_a_balance(balances, amount):
    taken = allocate([CreditBalance(i, b) for i, b in enumerate(balances)], amount)
    assert sum(part for _, part in taken) == min(amount, sum(balances))
    for key, part in taken:
        assert 0 < part <= balances[key]
    keys = [key for key, _ in taken]
    assert keys == sorted(keys)
    if taken:  # every earlier balance is emptied before a later one is touched
        assert all(balances[k] == part for k, part in taken[:-1])


@settings(max_examples=300, deadline=None)
@given(fees=st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=5),
       rate=st.sampled_from(["0", "10", "20", "8.25"]), credit=cents)
def test_total_is_fees_plus_taxes_minus_credits_to_the_cent(fees, rate, credit):
    tax = TaxRate(code="t", name="T", rate=Decimal(rate))
    computed = compute_invoice([FeeLine(amount_cents=f, taxes=[tax]) for f in fees], [], "EUR",
                               datetime(2026, 1, 1, tzinfo=UTC), credit_notes=credit)
    t = computed.totals
    assert t.credit_notes_amount_cents == min(credit, t.sub_total_including_taxes_amount_cents)
    assert t.total_amount_cents == sum(fees) - t.coupons_amount_cents + t.taxes_amount_cents - \
        t.credit_notes_amount_cents
    assert t.total_amount_cents >= 0
