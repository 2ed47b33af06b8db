"""The pure invoice maths: proration, coupons, taxes, totals (property tests and Lago's examples)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.billing.compute import FeeLine, compute_invoice
from invoicing.billing.coupons import CouponState, FeeBase, apply_coupons
from invoicing.billing.numbering import customer_number, organization_number
from invoicing.billing.subscription_fee import calendar_period, local_days, subscription_fee
from invoicing.billing.taxes import TaxRate, precedence
from invoicing.billing.totals import totals
from invora.pricing.decimals import pricing_context

NOW = datetime(2026, 4, 1, tzinfo=UTC)
RATES = [TaxRate("vat20", "VAT", Decimal(20)), TaxRate("vat55", "VAT reduced", Decimal("5.5")),
         TaxRate("gst", "GST", Decimal("8.875")), TaxRate("zero", "Zero", Decimal(0))]


# -- subscription fee ----------------------------------------------------------------------------------

def test_full_period_is_the_plan_amount():
    fee = subscription_fee(10_000, "EUR", full_start=datetime(2026, 3, 1, tzinfo=UTC),
                           full_end=datetime(2026, 4, 1, tzinfo=UTC), start=datetime(2026, 3, 1, tzinfo=UTC),
                           end=datetime(2026, 4, 1, tzinfo=UTC), timezone="UTC")
    assert (fee.amount_cents, fee.days_billed, fee.days_in_period) == (10_000, 31, 31)


def test_started_mid_month_is_prorated_by_days():
    # Lago's day-based rule: a 100 € monthly plan started on 15 March (calendar) bills 17 of 31 days = 54.84 €
    fee = subscription_fee(10_000, "EUR", full_start=datetime(2026, 3, 1, tzinfo=UTC),
                           full_end=datetime(2026, 4, 1, tzinfo=UTC), start=datetime(2026, 3, 15, 10, tzinfo=UTC),
                           end=datetime(2026, 4, 1, tzinfo=UTC), timezone="UTC")
    assert (fee.days_billed, fee.amount_cents) == (17, 5484)


def test_termination_mid_day_counts_that_day_and_trial_days_are_not_billed():
    full = dict(full_start=datetime(2026, 6, 1, tzinfo=UTC), full_end=datetime(2026, 7, 1, tzinfo=UTC))
    ended = subscription_fee(3_000, "EUR", **full, start=datetime(2026, 6, 1, tzinfo=UTC),
                             end=datetime(2026, 6, 10, 15, tzinfo=UTC), timezone="UTC")
    assert (ended.days_billed, ended.amount_cents) == (10, 1000)
    trial = subscription_fee(3_000, "EUR", **full, start=datetime(2026, 6, 1, tzinfo=UTC),
                             end=datetime(2026, 7, 1, tzinfo=UTC), timezone="UTC",
                             trial_ends_at=datetime(2026, 6, 21, tzinfo=UTC))
    assert (trial.days_billed, trial.amount_cents) == (10, 1000)
    whole_trial = subscription_fee(3_000, "EUR", **full, start=datetime(2026, 6, 1, tzinfo=UTC),
                                   end=datetime(2026, 7, 1, tzinfo=UTC), timezone="UTC",
                                   trial_ends_at=datetime(2026, 8, 1, tzinfo=UTC))
    assert whole_trial.amount_cents == 0


def test_days_are_counted_in_the_customers_timezone():
    # 1 March 00:00 in Tokyo is 28 February 15:00 UTC: still a 31-day March there
    start = datetime(2026, 2, 28, 15, tzinfo=UTC)
    assert local_days(start, datetime(2026, 3, 31, 15, tzinfo=UTC), "Asia/Tokyo") == 31
    assert local_days(start, datetime(2026, 3, 31, 15, tzinfo=UTC), "UTC") == 32


def test_calendar_periods():
    assert calendar_period(datetime(2026, 5, 17, 9, tzinfo=UTC), "quarterly", "UTC") == (
        datetime(2026, 4, 1, tzinfo=UTC).replace(tzinfo=calendar_period(NOW, "monthly", "UTC")[0].tzinfo),
        datetime(2026, 7, 1, tzinfo=UTC).replace(tzinfo=calendar_period(NOW, "monthly", "UTC")[0].tzinfo))
    start, end = calendar_period(datetime(2026, 12, 31, tzinfo=UTC), "monthly", "UTC")
    assert (start.date(), end.date()) == (date(2026, 12, 1), date(2027, 1, 1))
    start, end = calendar_period(datetime(2026, 12, 3, tzinfo=UTC), "weekly", "UTC")  # a Thursday
    assert (start.date(), end.date()) == (date(2026, 11, 30), date(2026, 12, 7))


@given(st.integers(0, 10**9), st.integers(1, 365), st.integers(0, 400))
def test_prorated_fee_never_exceeds_the_plan_amount(amount, period_days, used_days):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fee = subscription_fee(amount, "USD", full_start=start, full_end=start + timedelta(days=period_days),
                           start=start, end=start + timedelta(days=min(used_days, period_days)), timezone="UTC")
    assert 0 <= fee.amount_cents <= amount
    expected = (Decimal(amount) * min(used_days, period_days) / period_days).quantize(Decimal(1), ROUND_HALF_UP)
    assert fee.amount_cents == int(expected)


# -- coupons -------------------------------------------------------------------------------------------

def coupon(kind="fixed_amount", frequency="once", minutes=0, **fields) -> CouponState:
    return CouponState(id=uuid.uuid4(), coupon_type=kind, frequency=frequency,
                       created_at=NOW - timedelta(days=30) + timedelta(minutes=minutes), **fields)


def test_fixed_once_coupon_carries_its_remainder_forward():
    state = coupon(amount_cents=5_000, amount_cents_remaining=5_000, amount_currency="EUR")
    first = apply_coupons([state], [FeeBase(0, 3_000)], "EUR", NOW)
    assert first.amount_cents == 3_000
    [use] = first.uses
    assert (use.amount_cents_remaining, use.terminated) == (2_000, False)
    second = apply_coupons([CouponState(**{**_fields(state), "amount_cents_remaining": 2_000})],
                           [FeeBase(0, 9_000)], "EUR", NOW)
    assert second.amount_cents == 2_000 and second.uses[0].terminated


def _fields(state: CouponState) -> dict:
    return {name: getattr(state, name) for name in state.__slots__}


def test_oldest_coupon_first_and_limits():
    old = coupon("percentage", "forever", minutes=0, percentage_rate=Decimal(10))
    new = coupon(minutes=5, amount_cents=100_000, amount_cents_remaining=100_000, amount_currency="EUR")
    outcome = apply_coupons([new, old], [FeeBase(0, 10_000), FeeBase(1, 5_000)], "EUR", NOW)
    # 10 % of 150.00 first (15.00), then the fixed coupon takes what is left (135.00)
    assert [u.amount_cents for u in outcome.uses] == [1_500, 13_500]
    limited = coupon("percentage", "recurring", percentage_rate=Decimal(50), frequency_duration_remaining=2,
                     billable_metric_codes=("api_calls",))
    outcome = apply_coupons([limited], [FeeBase(0, 10_000), FeeBase(1, 4_000, billable_metric_code="api_calls")],
                            "EUR", NOW)
    assert outcome.amount_cents == 2_000 and outcome.discounts == {1: Decimal(2_000)}
    assert (outcome.uses[0].frequency_duration_remaining, outcome.uses[0].terminated) == (1, False)
    expired = coupon(amount_cents=100, amount_currency="EUR", expiration_at=NOW - timedelta(seconds=1))
    outcome = apply_coupons([expired], [FeeBase(0, 10_000)], "EUR", NOW)
    assert outcome.amount_cents == 0 and outcome.uses[0].terminated
    other_currency = coupon(amount_cents=100, amount_cents_remaining=100, amount_currency="USD")
    assert apply_coupons([other_currency], [FeeBase(0, 10_000)], "EUR", NOW).amount_cents == 0


# -- taxes and totals ----------------------------------------------------------------------------------

def test_tax_precedence():
    charge, plan, customer, org = [RATES[0]], [RATES[1]], [RATES[2]], [RATES[3]]
    assert precedence(charge, plan, customer, org) == (RATES[0],)
    assert precedence([], plan, customer, org) == (RATES[1],)
    assert precedence(None, [], customer, org) == (RATES[2],)
    assert precedence([], [], [], org) == (RATES[3],)
    assert precedence([], [], [], []) == ()


def test_taxes_are_rounded_once_per_rate_per_invoice():
    # three fees of 0.05 € at 10 %: 0.5 cent each would round to 1 cent each (3); once for the invoice: 2
    ten = TaxRate("ten", "Ten", Decimal(10))
    invoice = compute_invoice([FeeLine(5, [ten]), FeeLine(5, [ten]), FeeLine(5, [ten])], [], "EUR", NOW)
    assert invoice.totals.taxes_amount_cents == 2
    assert [f.taxes_precise_amount_cents for f in invoice.fees] == [Decimal("0.5")] * 3


fee_lines = st.lists(st.tuples(st.integers(0, 10**8), st.lists(st.sampled_from(RATES), max_size=3, unique=True)),
                     max_size=8)
coupon_states = st.lists(st.one_of(
    st.builds(lambda amount, frequency, minutes: coupon("fixed_amount", frequency, minutes, amount_cents=amount,
                                                        amount_cents_remaining=amount, amount_currency="EUR",
                                                        frequency_duration_remaining=3),
              st.integers(0, 10**7), st.sampled_from(["once", "recurring", "forever"]), st.integers(0, 100)),
    st.builds(lambda rate, frequency, minutes: coupon("percentage", frequency, minutes, percentage_rate=rate,
                                                      frequency_duration_remaining=3),
              st.decimals(0, 100, places=2), st.sampled_from(["once", "recurring", "forever"]), st.integers(0, 100)),
), max_size=4)


@settings(max_examples=300, deadline=None)
@given(fee_lines, coupon_states)
def test_total_is_fees_minus_coupons_plus_taxes_and_taxes_match_a_brute_force(lines, coupons):
    fees = [FeeLine(amount, taxes) for amount, taxes in lines]
    invoice = compute_invoice(fees, coupons, "EUR", NOW)
    t = invoice.totals
    assert t.fees_amount_cents == sum(amount for amount, _ in lines)
    assert 0 <= t.coupons_amount_cents <= t.fees_amount_cents
    assert t.total_amount_cents == t.fees_amount_cents - t.coupons_amount_cents + t.taxes_amount_cents - 0
    assert t.coupons_amount_cents == sum(u.amount_cents for u in invoice.coupons.uses)
    # coupon shares add up to the coupons (exact decimals, to far below a cent)
    with pricing_context():
        assert sum(invoice.coupons.discounts.values(), Decimal(0)) == t.coupons_amount_cents
    # brute force: per tax code, Σ over fees of (amount − coupon share) × rate, rounded once half-up
    brute = 0
    for rate in RATES:
        base = sum((Decimal(f.line.amount_cents) - f.precise_coupons_amount_cents
                    for f in invoice.fees if rate in f.line.taxes), Decimal(0))
        if any(rate in f.line.taxes for f in invoice.fees):
            brute += int((base * rate.rate / 100).quantize(Decimal(1), ROUND_HALF_UP))
    assert t.taxes_amount_cents == brute


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**8), st.lists(st.sampled_from(RATES), max_size=3, unique=True),
                          st.booleans()), max_size=8),
       coupon_states, st.integers(0, 5 * 10**8))
def test_the_progressive_deduction_is_taken_before_coupons_and_taxes(lines, coupons, progressive):
    """What progressive invoices billed (and taxed) comes off the fees before coupons and taxes: charge fees
    first, pro rata, then the others; never more than the fees; the shares add up to the deduction."""
    fees = [FeeLine(amount, taxes, billable_metric_code="calls" if charge else None)
            for amount, taxes, charge in lines]
    invoice = compute_invoice(fees, coupons, "EUR", NOW, progressive_billing_credit=progressive)
    t = invoice.totals
    charges = sum(f.amount_cents for f in fees if f.billable_metric_code)
    assert t.progressive_billing_credit_amount_cents == min(progressive, t.fees_amount_cents)
    with pricing_context():
        assert sum((f.progressive_billing_credit_cents for f in invoice.fees), Decimal(0)) == \
            t.progressive_billing_credit_amount_cents
    for f in invoice.fees:  # charge fees first: another fee takes a share only once they are used up
        assert 0 <= f.progressive_billing_credit_cents <= f.line.amount_cents
        if f.line.billable_metric_code is None and f.progressive_billing_credit_cents:
            assert progressive > charges
    assert 0 <= t.coupons_amount_cents <= t.fees_amount_cents - t.progressive_billing_credit_amount_cents
    assert t.total_amount_cents == (t.fees_amount_cents - t.progressive_billing_credit_amount_cents
                                    - t.coupons_amount_cents + t.taxes_amount_cents)
    brute = 0  # per tax code, Σ (amount − progressive share − coupon share) × rate, rounded once half-up
    for rate in RATES:
        base = sum((Decimal(f.line.amount_cents) - f.progressive_billing_credit_cents - f.precise_coupons_amount_cents
                    for f in invoice.fees if rate in f.line.taxes), Decimal(0))
        if any(rate in f.line.taxes for f in invoice.fees):
            brute += int((base * rate.rate / 100).quantize(Decimal(1), ROUND_HALF_UP))
    assert t.taxes_amount_cents == brute


def test_usage_billed_by_a_progressive_invoice_is_not_taxed_again():
    # the period: a 100.00 subscription fee and 60.00 of usage, 30.00 of which a progressive invoice already
    # billed and taxed; VAT 20 % on 130.00 = 26.00 (not on 160.00 = 32.00)
    vat = RATES[0]
    invoice = compute_invoice([FeeLine(10_000, [vat]), FeeLine(6_000, [vat], billable_metric_code="calls")], [],
                              "EUR", NOW, progressive_billing_credit=3_000)
    assert [f.progressive_billing_credit_cents for f in invoice.fees] == [0, 3_000]
    assert (invoice.totals.progressive_billing_credit_amount_cents, invoice.totals.taxes_amount_cents,
            invoice.totals.total_amount_cents) == (3_000, 2_600, 15_600)


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9),
       st.integers(0, 10**9), st.integers(0, 10**9))
def test_totals_never_go_negative_and_add_up(fees, coupons, taxes, progressive, credit_notes, prepaid):
    t = totals(fees=fees, coupons=coupons, taxes=taxes, progressive_billing_credit=progressive,
               credit_notes=credit_notes, prepaid_credit=prepaid)
    assert t.total_amount_cents >= 0 and t.sub_total_excluding_taxes_amount_cents >= 0
    assert t.total_amount_cents == (t.fees_amount_cents - t.progressive_billing_credit_amount_cents
                                    - t.coupons_amount_cents + t.taxes_amount_cents - t.credit_notes_amount_cents
                                    - t.prepaid_credit_amount_cents)


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=10), st.integers(0, 10**7))
def test_a_fixed_once_coupon_is_never_spent_twice(invoices, amount):
    state = coupon(amount_cents=amount, amount_cents_remaining=amount, amount_currency="EUR")
    used = 0
    for fees in invoices:
        outcome = apply_coupons([state], [FeeBase(0, fees)], "EUR", NOW)
        [use] = outcome.uses
        used += use.amount_cents
        if use.terminated:
            break
        state = CouponState(**{**_fields(state), "amount_cents_remaining": use.amount_cents_remaining})
    assert used == min(amount, sum(invoices[:len(invoices)])) or used == amount


def test_numbers():
    assert organization_number("INV", date(2026, 3, 31), 42) == "INV-202603-00042"
    assert customer_number("INV", "007", 3) == "INV-007-003"
