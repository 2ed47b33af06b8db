"""Properties of the pricing engine, checked by Hypothesis over generated tiers, prices and units."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from invora.money import exponent
from invora.pricing import (
    price_charge,
    price_dynamic,
    price_graduated,
    price_graduated_percentage,
    price_package,
    price_percentage,
    price_standard,
    price_volume,
)
from invora.pricing.percentage import PercentageProperties, price_transactions
from invora.pricing.proration import prorate_cents, ratio

settings.register_profile("invora", max_examples=150, deadline=None)
settings.load_profile("invora")

prices = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False, allow_infinity=False).map(str)
units = st.decimals(min_value=0, max_value=10_000_000, places=3, allow_nan=False, allow_infinity=False)
whole_units = st.integers(min_value=0, max_value=10_000_000)
currencies = st.sampled_from(["USD", "EUR", "JPY", "BHD", "CLF"])


@st.composite
def ranges(draw, price_field: str = "per_unit_amount", price=prices):
    """Contiguous Lago ranges: 0..b1, b1+1..b2, …, bn+1..∞."""
    widths = draw(st.lists(st.integers(min_value=1, max_value=200_000), max_size=6))
    bounds, start = [], 0
    for width in widths:  # every tier holds at least two whole units: to_value > from_value
        bounds.append(start + width)
        start = start + width + 1
    rows, start = [], 0
    for bound in [*bounds, None]:
        rows.append({"from_value": start, "to_value": bound, price_field: draw(price), "flat_amount": draw(prices)})
        start = (bound or 0) + 1
    return rows


@st.composite
def adjacent_or_not_ranges(draw, price_field: str = "per_unit_amount"):
    """Ranges where each tier starts at the previous to_value (adjacent) or one above it, mixed (Lago's
    RangeBoundsValidator accepts both)."""
    widths = draw(st.lists(st.integers(min_value=2, max_value=200_000), max_size=6))
    rows, start = [], 0
    for width in [*widths, None]:
        to_value = None if width is None else start + width
        rows.append({"from_value": start, "to_value": to_value, price_field: draw(prices),
                     "flat_amount": draw(prices)})
        start = (to_value or 0) + draw(st.sampled_from([0, 1]))
    return rows


signed_units = st.decimals(min_value=-10_000, max_value=10_000, places=3, allow_nan=False, allow_infinity=False)


@given(adjacent_or_not_ranges(), units, units)
def test_adjacent_tiers_price_each_unit_once_and_never_decrease(graduated_ranges, a, b):
    low, high = sorted((a, b))
    properties = {"graduated_ranges": graduated_ranges}
    result = price_graduated(low, properties, "USD")
    assert sum((line.units for line in result.lines), Decimal(0)) == low
    assert result.precise_amount <= price_graduated(high, properties, "USD").precise_amount
    assert result.precise_amount >= Decimal(graduated_ranges[0]["flat_amount"])  # tier 1's flat, even at 0


@given(st.sampled_from(["standard", "graduated", "volume", "package", "graduated_percentage", "percentage"]),
       ranges(), signed_units, st.lists(signed_units, max_size=5))
def test_a_charge_never_bills_a_negative_amount(model, tier_rows, quantity, transactions):
    """Lago floors negative units or amounts at 0 (fees/charge_service.rb init_fee)."""
    properties = {"standard": {"amount": "1.5"}, "graduated": {"graduated_ranges": tier_rows},
                  "volume": {"volume_ranges": tier_rows}, "package": {"amount": "2", "package_size": 3},
                  "graduated_percentage": {"graduated_percentage_ranges": [
                      {**row, "rate": row["per_unit_amount"]} for row in tier_rows]},
                  "percentage": {"rate": "2", "fixed_amount": "0.1"}}[model]
    result = price_charge(model, properties, "USD", units=quantity,
                          event_values=transactions if model == "percentage" else None)
    assert result.precise_amount >= 0 and result.amount_cents >= 0 and result.units >= 0
    if quantity < 0:
        assert (result.units, result.amount_cents) == (0, 0)


@given(ranges(), units, units)
def test_graduated_never_decreases_as_units_grow(graduated_ranges, a, b):
    low, high = sorted((a, b))
    properties = {"graduated_ranges": graduated_ranges}
    cheaper = price_graduated(low, properties, "USD").precise_amount
    assert cheaper <= price_graduated(high, properties, "USD").precise_amount


@given(ranges(price_field="rate"), units, units)
def test_graduated_percentage_never_decreases(graduated_ranges, a, b):
    low, high = sorted((a, b))
    properties = {"graduated_percentage_ranges": graduated_ranges}
    assert (price_graduated_percentage(low, properties, "USD").precise_amount
            <= price_graduated_percentage(high, properties, "USD").precise_amount)


@given(prices, prices, units, currencies)
def test_a_single_tier_makes_graduated_volume_and_standard_agree(unit_price, flat, quantity, currency):
    tier = [{"from_value": 0, "to_value": None, "per_unit_amount": unit_price, "flat_amount": flat}]
    graduated = price_graduated(quantity, {"graduated_ranges": tier}, currency)
    volume = price_volume(quantity, {"volume_ranges": tier}, currency)
    standard = price_standard(quantity, {"amount": unit_price}, currency)
    flat_fee = Decimal(flat)  # billed even at 0 units (Lago)
    assert graduated.precise_amount == volume.precise_amount == standard.precise_amount + flat_fee
    assert graduated.amount_cents == volume.amount_cents


@given(ranges(), units)
def test_graduated_is_the_sum_of_its_tiers_and_the_tiers_cover_the_units(graduated_ranges, quantity):
    result = price_graduated(quantity, {"graduated_ranges": graduated_ranges}, "USD")
    assert sum((line.amount for line in result.lines), Decimal(0)) == result.precise_amount
    assert sum((line.units for line in result.lines), Decimal(0)) == quantity


@given(ranges(), whole_units)
def test_volume_prices_every_unit_at_the_tier_holding_the_total(volume_ranges, quantity):
    result = price_volume(quantity, {"volume_ranges": volume_ranges}, "USD")
    tier = next(r for r in volume_ranges if r["from_value"] <= max(quantity, 1) and (r["to_value"] is None
                                                                              or quantity <= r["to_value"]))
    assert result.precise_amount == quantity * Decimal(tier["per_unit_amount"]) + Decimal(tier["flat_amount"])


@given(prices, st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=10_000), units, units)
def test_package_is_a_non_decreasing_step_function(amount, size, free, a, b):
    properties = {"amount": amount, "package_size": size, "free_units": free}
    low, high = sorted((a, b))
    result = price_package(low, properties, "USD")
    assert result.precise_amount <= price_package(high, properties, "USD").precise_amount
    paid = max(low - free, Decimal(0))
    with localcontext() as ctx:
        ctx.prec = 60
        packages = (paid / size).to_integral_value(rounding=ROUND_CEILING)
        assert result.precise_amount == packages * Decimal(amount)
        # constant up to the end of the package holding `low`
        end_of_package = Decimal(free) + packages * size if paid else Decimal(free)
    assert price_package(end_of_package, properties, "USD").precise_amount == result.precise_amount


@st.composite
def percentage_properties(draw):
    minimum = draw(st.none() | prices)
    maximum = draw(st.none() | prices)
    if minimum is not None and maximum is not None and Decimal(minimum) > Decimal(maximum):
        minimum, maximum = maximum, minimum
    return {
        "rate": draw(st.decimals(min_value=0, max_value=100, places=3).map(str)),
        "fixed_amount": draw(st.none() | prices),
        "free_units_per_events": draw(st.none() | st.integers(min_value=1, max_value=5)),
        "free_units_per_total_aggregation": draw(st.none() | prices),
        "per_transaction_min_amount": minimum,
        "per_transaction_max_amount": maximum,
    }


@given(percentage_properties(), st.lists(units, max_size=20))
def test_percentage_min_and_max_bound_each_paid_transaction(properties, values):
    props = PercentageProperties.parse(properties)
    transactions = price_transactions(values, props)
    for transaction in transactions:
        if not transaction.paid:
            assert transaction.amount == 0
            continue
        if props.per_transaction_min_amount is not None:
            assert transaction.amount >= props.per_transaction_min_amount
        if props.per_transaction_max_amount is not None:
            assert transaction.amount <= props.per_transaction_max_amount
    result = price_percentage(0, properties, "USD", values)
    assert result.precise_amount == sum((t.amount for t in transactions), Decimal(0))
    assert sum((line.amount for line in result.lines), Decimal(0)) == result.precise_amount
    assert result.details["free_events"] + result.details["paid_events"] == len(values)


@given(percentage_properties(), st.lists(units, max_size=20))
def test_percentage_free_allowance_is_a_prefix(properties, values):
    transactions = price_transactions(values, PercentageProperties.parse(properties))
    paid_flags = [t.paid for t in transactions]
    first_paid = paid_flags.index(True) if True in paid_flags else len(paid_flags)
    assert all(paid_flags[first_paid:]), "once a transaction pays, every later one pays"


@given(st.sampled_from(["standard", "graduated", "volume", "package", "graduated_percentage"]), units, currencies,
       st.data())
def test_rounding_happens_once_half_up_at_the_currency_exponent(model, quantity, currency, data):
    properties = {
        "standard": lambda: {"amount": data.draw(prices)},
        "graduated": lambda: {"graduated_ranges": data.draw(ranges())},
        "volume": lambda: {"volume_ranges": data.draw(ranges())},
        "package": lambda: {"amount": data.draw(prices), "package_size": data.draw(st.integers(1, 1000))},
        "graduated_percentage": lambda: {"graduated_percentage_ranges": data.draw(ranges(price_field="rate"))},
    }[model]()
    result = price_charge(model, properties, currency, units=quantity)
    with localcontext() as ctx:
        ctx.prec = 80
        scaled = result.precise_amount.scaleb(exponent(currency))
        assert abs(scaled - result.amount_cents) <= Decimal("0.5")
        if scaled - int(scaled) == Decimal("0.5"):
            assert result.amount_cents == int(scaled) + 1  # half-up


@given(st.lists(st.decimals(min_value=-10_000, max_value=10_000, places=6), max_size=30), currencies)
def test_dynamic_is_the_rounded_sum_of_event_amounts(amounts, currency):
    result = price_dynamic(max(len(amounts), 1), [str(a) for a in amounts], currency)
    with localcontext() as ctx:
        ctx.prec = 80
        expected = sum(amounts, Decimal(0))
    assert abs(expected - result.amount_cents) <= Decimal("0.5")


@given(st.integers(min_value=0, max_value=10**12), currencies, st.integers(1, 366), st.data())
def test_proration_is_bounded_and_monotone(amount_cents, currency, period_days, data):
    used_a = data.draw(st.integers(0, period_days))
    used_b = data.draw(st.integers(0, period_days))
    low, high = sorted((used_a, used_b))
    assert 0 <= ratio(low, period_days) <= ratio(high, period_days) <= 1
    assert prorate_cents(amount_cents, currency, low, period_days) <= prorate_cents(amount_cents, currency, high,
                                                                                    period_days)
    assert prorate_cents(amount_cents, currency, period_days, period_days) == amount_cents
    assert prorate_cents(amount_cents, currency, 0, period_days) == 0
