"""Fixed charges (in advance and in arrears, prorated or not, units from the plan or the subscription's override,
taxes as fees) and the minimum commitment's true-up (Lago's documented examples, prorated partial periods)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.billing.commitment import prorated_commitment_cents, true_up_cents
from invoicing.billing.compute import FeeLine, compute_invoice
from invoicing.billing.taxes import TaxRate
from invoicing.invoices.consumer import on_subscription_event

from .conftest import T0, charge, charge_usage, tax  # noqa: TID252

MAR16 = datetime(2026, 3, 16, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)


def fixed_charge(code: str, amount: str, units, *, pay_in_advance: bool = False, prorated: bool = False,
                 taxes: list | None = None, model: str = "standard", properties: dict | None = None) -> dict:
    return {"lago_id": str(uuid.uuid4()), "lago_add_on_id": str(uuid.uuid4()), "add_on_code": f"{code}_addon",
            "code": code, "invoice_display_name": code.title(), "created_at": T0.isoformat(), "charge_model": model,
            "pay_in_advance": pay_in_advance, "prorated": prorated,
            "properties": properties or {"amount": amount}, "units": units, "taxes": taxes or []}


async def sorted_invoices(api) -> list[dict]:
    found = (await api.ok("GET", "/api/v1/invoices", params={"per_page": 100}))["invoices"]
    return sorted(found, key=lambda i: (i["created_at"], i["lago_id"]))


async def fees_of(api, invoice: dict) -> dict[str, dict]:
    body = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    return {f["item"]["code"]: f for f in body["fees"]}


async def test_fixed_charges_in_advance_and_in_arrears_prorated_with_overridden_units(world, api):
    support_tax = tax("support_tax", "10")
    seats = fixed_charge("seats", "10", 5, prorated=True, taxes=[support_tax])
    support = fixed_charge("support", "50", 1, pay_in_advance=True)
    plan = await world.plan(10_000, fixed_charges=[seats, support])  # the plan's own fee in arrears
    customer = await world.customer()
    overrides = {"fixed_charges": [{"code": "seats", "units": "8"}]}
    sub = world.subscription(customer, plan, started_at=MAR16.isoformat(), plan_overrides=overrides,
                             current_billing_period_started_at=MAR16.isoformat(),
                             current_billing_period_ending_at=(APR - timedelta(seconds=1)).isoformat())
    # the start bills the fixed charge paid in advance (not prorated: its full amount), though the plan is in arrears
    await world.deliver(on_subscription_event, world.envelope("subscription.started", "subscription",
                                                              sub["lago_id"], {"subscription": sub},
                                                              occurred_at=MAR16))
    await world.close(sub, MAR16, APR, full=(T0, APR), plan_overrides=overrides,
                      next_period_start=APR.isoformat(), next_period_end=MAY.isoformat())
    start, period = await sorted_invoices(api)
    start_fees = await fees_of(api, start)
    assert list(start_fees) == ["support"] and start_fees["support"]["amount_cents"] == 5_000
    assert start_fees["support"]["item"]["type"] == "fixed_charge" and start_fees["support"]["pay_in_advance"]
    assert start_fees["support"]["lago_fixed_charge_id"] == support["lago_id"]
    fees = await fees_of(api, period)
    # 16 of 31 days: the plan 51.61 €; 8 seats (the override) × 10 € prorated = 41.29 €, its own 10 % tax;
    # support paid in advance for April: 50 €
    assert fees[plan["code"]]["amount_cents"] == 5_161
    assert (fees["seats"]["amount_cents"], fees["seats"]["units"], fees["seats"]["pay_in_advance"]) == (
        4_129, "8", False)
    assert [t["tax_code"] for t in fees["seats"]["applied_taxes"]] == ["support_tax"]
    assert fees["support"]["amount_cents"] == 5_000 and fees["support"]["from_date"].startswith("2026-04-01")
    assert (period["fees_amount_cents"], period["taxes_amount_cents"], period["total_amount_cents"]) == (
        14_290, 413, 14_703)
    listed = (await api.ok("GET", "/api/v1/fees", params={"fee_type": "fixed_charge"}))["fees"]
    assert len(listed) == 3


async def test_lagos_minimum_commitment_examples(world, api):
    """Lago: a 100 $ minimum on a 50 $ plan with 3 units × 10 $ = 80 $ → a 20 $ true-up; a 1,000 $ monthly
    minimum with 800 $ of usage → 200 $, with 1,300 $ → none."""
    customer = await world.customer()
    units = charge("units", properties={"amount": "10"})
    commitment = {"lago_id": str(uuid.uuid4()), "plan_code": "p", "amount_cents": 10_000,
                  "invoice_display_name": "Commitment", "interval": "monthly", "created_at": T0.isoformat(),
                  "updated_at": T0.isoformat(), "taxes": [tax("commit_tax", "20")]}
    plan = await world.plan(5_000, charges=[units], minimum_commitment=commitment)
    sub = world.subscription(customer, plan)
    await world.close(sub, T0, APR, usage=[charge_usage(units, "3")])
    [invoice] = await sorted_invoices(api)
    fees = await fees_of(api, invoice)
    true_up = fees["minimum_commitment"]
    assert (true_up["amount_cents"], true_up["item"]["type"], true_up["item"]["name"]) == (2_000, "commitment",
                                                                                          "Commitment")
    assert [t["tax_code"] for t in true_up["applied_taxes"]] == ["commit_tax"]
    assert (invoice["fees_amount_cents"], invoice["taxes_amount_cents"]) == (10_000, 400)

    usage_only = charge("mtu", properties={"amount": "1"})
    contract = {**commitment, "lago_id": str(uuid.uuid4()), "amount_cents": 100_000, "taxes": []}
    monthly = await world.plan(0, charges=[usage_only], minimum_commitment=contract)
    below = world.subscription(customer, monthly)
    above = world.subscription(customer, monthly)
    await world.close(below, T0, APR, usage=[charge_usage(usage_only, "800")])
    await world.close(above, T0, APR, usage=[charge_usage(usage_only, "1300")])
    by_sub = {i["lago_subscription_id"]: i for i in await sorted_invoices(api)}
    assert (await fees_of(api, by_sub[below["lago_id"]]))["minimum_commitment"]["amount_cents"] == 20_000
    assert by_sub[below["lago_id"]]["fees_amount_cents"] == 100_000
    assert "minimum_commitment" not in await fees_of(api, by_sub[above["lago_id"]])
    assert by_sub[above["lago_id"]]["fees_amount_cents"] == 130_000


async def test_commitment_is_prorated_counts_fees_paid_in_advance_and_follows_the_override(world, api):
    customer = await world.customer()
    commitment = {"lago_id": str(uuid.uuid4()), "plan_code": "p", "amount_cents": 31_000, "interval": "monthly",
                  "created_at": T0.isoformat(), "updated_at": T0.isoformat(), "taxes": []}
    plan = await world.plan(3_100, pay_in_advance=True, minimum_commitment=commitment)
    sub = world.subscription(customer, plan, started_at=MAR16.isoformat(),
                             current_billing_period_started_at=MAR16.isoformat(),
                             current_billing_period_ending_at=(APR - timedelta(seconds=1)).isoformat())
    await world.deliver(on_subscription_event, world.envelope("subscription.started", "subscription",
                                                              sub["lago_id"], {"subscription": sub},
                                                              occurred_at=MAR16))
    await world.close(sub, MAR16, APR, full=(T0, APR), next_period_start=APR.isoformat(),
                      next_period_end=MAY.isoformat())
    start, period = await sorted_invoices(api)
    assert start["fees_amount_cents"] == 1_600  # 16/31 of 31.00 € paid in advance
    fees = await fees_of(api, period)
    # 16 of 31 days of 310 € = 160 €, less the 16 € paid in advance for March = 144 €; April's 31 € in advance
    assert fees["minimum_commitment"]["amount_cents"] == 14_400
    assert fees["minimum_commitment"]["amount_details"]["prorated_commitment_amount_cents"] == 16_000
    assert period["fees_amount_cents"] == 14_400 + 3_100

    other = world.subscription(customer, plan, plan_overrides={"minimum_commitment": {"amount_cents": 5_000}})
    await world.close(other, APR, MAY, plan_overrides={"minimum_commitment": {"amount_cents": 5_000}},
                      next_period_start=MAY.isoformat(), next_period_end=datetime(2026, 6, 1, tzinfo=UTC).isoformat())
    mine = [i for i in await sorted_invoices(api) if i["lago_subscription_id"] == other["lago_id"]]
    # nothing was paid in advance for April on this subscription: 50 € overridden commitment in full
    assert (await fees_of(api, mine[0]))["minimum_commitment"]["amount_cents"] == 5_000


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(min_value=0, max_value=10**9), days_in_period=st.integers(min_value=1, max_value=366),
       data=st.data(), fees=st.lists(st.integers(min_value=0, max_value=10**8), max_size=5),
       rate=st.sampled_from(["0", "20", "5.5"]))
def test_a_true_up_tops_the_fees_up_to_the_prorated_commitment_to_the_cent(amount, days_in_period, data, fees,
                                                                           rate):
    days = data.draw(st.integers(min_value=0, max_value=days_in_period))
    committed = prorated_commitment_cents(amount, days, days_in_period)
    assert abs(Decimal(committed) - Decimal(amount) * days / days_in_period) <= Decimal("0.5")
    if days == days_in_period:
        assert committed == amount
    up = true_up_cents(committed, sum(fees))
    assert sum(fees) + up == max(committed, sum(fees))
    tax_rate = TaxRate(code="t", name="T", rate=Decimal(rate))
    lines = [FeeLine(amount_cents=f, taxes=[tax_rate]) for f in [*fees, up]]
    t = compute_invoice(lines, [], "EUR", datetime(2026, 4, 1, tzinfo=UTC)).totals
    assert t.total_amount_cents == sum(fees) + up + t.taxes_amount_cents


@settings(max_examples=200, deadline=None)
@given(plan_amount=st.integers(min_value=0, max_value=10**7), days_in_period=st.integers(min_value=28, max_value=31),
       data=st.data(),
       fixed=st.lists(st.tuples(st.integers(min_value=0, max_value=50), st.sampled_from(["0.5", "10", "33.33"]),
                                st.booleans(), st.booleans()), max_size=4),
       commitment=st.integers(min_value=0, max_value=5 * 10**7),
       coupon=st.integers(min_value=0, max_value=10**6), credit=st.integers(min_value=0, max_value=10**7),
       rates=st.lists(st.sampled_from(["0", "5.5", "10", "20"]), min_size=1, max_size=2, unique=True))
def test_an_invoice_with_fixed_charges_a_true_up_coupons_taxes_and_credits_adds_up_to_the_cent(
        plan_amount, days_in_period, data, fixed, commitment, coupon, credit, rates):
    """Random fixed charges (prorated or not, in advance or in arrears), a partial period, a commitment, a fixed
    coupon, taxes and a customer credit: total = Σ fees − coupons + taxes − credits, taxes equal a brute-force
    recomputation rounded once per rate, and the fees of the period reach the prorated commitment exactly."""
    from invoicing.billing.coupons import CouponState
    from invoicing.billing.fixed_charges import fixed_charge_fees
    from invoicing.billing.subscription_fee import subscription_fee

    days = data.draw(st.integers(min_value=1, max_value=days_in_period))
    start = datetime(2026, 3, 1, tzinfo=UTC)
    full_end = start + timedelta(days=days_in_period)
    version = {"fixed_charges": [
        {"lago_id": str(uuid.uuid4()), "code": f"fc{n}", "charge_model": "standard", "properties": {"amount": price},
         "units": units, "prorated": prorated, "pay_in_advance": advance}
        for n, (units, price, prorated, advance) in enumerate(fixed)]}
    lines: list[int] = []
    sub = subscription_fee(plan_amount, "EUR", full_start=start, full_end=full_end, start=start,
                           end=start + timedelta(days=days), timezone="UTC")
    lines.append(sub.amount_cents)
    for advance in (False, True):
        for line in fixed_charge_fees(version, {}, "EUR", in_advance=advance, days_billed=days,
                                      days_in_period=days_in_period):
            full = Decimal(line.units) * Decimal(line.fixed_charge["properties"]["amount"]) * 100
            expected = full * days / days_in_period if line.fixed_charge["prorated"] else full
            assert abs(Decimal(line.amount_cents) - expected) <= Decimal("0.5")
            lines.append(line.amount_cents)
    committed = prorated_commitment_cents(commitment, days, days_in_period)
    up = true_up_cents(committed, sum(lines))
    assert sum(lines) + up == max(committed, sum(lines))
    lines.append(up)
    taxes = [TaxRate(code=f"t{r}", name=r, rate=Decimal(r)) for r in rates]
    coupons = [CouponState(id=uuid.uuid4(), coupon_type="fixed_amount", frequency="forever",
                           created_at=datetime(2026, 1, 1, tzinfo=UTC), amount_cents=coupon, amount_currency="EUR")]
    computed = compute_invoice([FeeLine(amount_cents=a, taxes=taxes) for a in lines], coupons, "EUR",
                               datetime(2026, 4, 1, tzinfo=UTC), credit_notes=credit)
    t = computed.totals
    assert t.coupons_amount_cents == min(coupon, sum(lines))
    brute = sum(int(((Decimal(sum(lines)) - t.coupons_amount_cents) * Decimal(r) / 100).quantize(
        Decimal(1), rounding="ROUND_HALF_UP")) for r in rates)
    assert t.taxes_amount_cents == brute
    assert t.credit_notes_amount_cents == min(credit, t.sub_total_including_taxes_amount_cents)
    assert t.total_amount_cents == sum(lines) - t.coupons_amount_cents + t.taxes_amount_cents \
        - t.credit_notes_amount_cents >= 0
