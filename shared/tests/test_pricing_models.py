"""The pricing engine against fixed vectors: Lago's documented examples and hand-checked edge cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext

import pytest

from invora.pricing import (
    InvalidProperties,
    PricingError,
    clean_properties,
    price_charge,
    price_dynamic,
    price_graduated,
    price_graduated_percentage,
    price_package,
    price_percentage,
    price_standard,
    price_volume,
    validate_properties,
)
from invora.pricing.proration import (
    days_inclusive,
    minimum_true_up_cents,
    period_ratio,
    prorate_cents,
    prorate_result,
    ratio,
)
from invora.pricing.units import round_units


def tiers(*rows: tuple[int, int | None, str, str], price_field: str = "per_unit_amount") -> list[dict]:
    return [{"from_value": f, "to_value": t, price_field: p, "flat_amount": flat} for f, t, p, flat in rows]


LAGO_VOLUME = {"volume_ranges": tiers(
    (0, 10_000, "0.0010", "10"), (10_001, 50_000, "0.0008", "10"),
    (50_001, 100_000, "0.0006", "10"), (100_001, None, "0.0004", "10"),
)}
LAGO_GRADUATED = {"graduated_ranges": tiers((0, 100, "1", "0"), (101, 200, "0.50", "0"), (201, None, "0.10", "0"))}
LAGO_GRADUATED_PERCENTAGE = {"graduated_percentage_ranges": tiers(
    (0, 1_000, "1", "200"), (1_001, 10_000, "2", "300"), (10_001, None, "3", "400"), price_field="rate",
)}


# -- Lago's documented examples -------------------------------------------------------------------

def test_lago_volume_example_65000_units_cost_49():
    result = price_volume(65_000, LAGO_VOLUME, "USD")
    assert result.amount_cents == 4900
    assert result.precise_amount == Decimal("49")
    [tier_line] = result.lines
    assert (tier_line.from_value, tier_line.to_value, tier_line.unit_amount) == (50_001, 100_000, Decimal("0.0006"))


def test_lago_package_example_201_units_cost_10():
    result = price_package(201, {"amount": "5.00", "package_size": 100, "free_units": 100}, "USD")
    assert result.amount_cents == 1000
    assert result.details["packages"] == "2" and result.details["paid_units"] == "101"


def test_lago_graduated_example():
    # 1.00 for the first 100, 0.50 for the next 100, 0.10 after: 250 units
    result = price_graduated(250, LAGO_GRADUATED, "USD")
    assert result.amount_cents == 15_500
    assert [line.amount for line in result.lines] == [Decimal("100"), Decimal("50.00"), Decimal("5.00")]


def test_lago_standard_example_1000_calls_at_5_cents():
    assert price_standard(1000, {"amount": "0.05"}, "USD").amount_cents == 5000


def test_lago_percentage_example_free_events_and_amount():
    properties = {"rate": "1.2", "fixed_amount": "0.10", "free_units_per_events": 3,
                  "free_units_per_total_aggregation": "500"}
    result = price_percentage(450, properties, "USD", ["200", "100", "100", "50"])
    assert result.amount_cents == 70
    assert result.details["free_events"] == 3 and result.details["paid_events"] == 1


@pytest.mark.parametrize(("total", "expected_cents"), [(500, 20_500), (1_050, 51_100), (5_050, 59_100)])
def test_lago_graduated_percentage_example(total, expected_cents):
    # transactions of 500, 550 then 4,000 cost 205, 306 and 80: the differences of these totals
    assert price_graduated_percentage(total, LAGO_GRADUATED_PERCENTAGE, "USD").amount_cents == expected_cents


def test_lago_prorated_seat_example():
    # a 10.00 seat used 22 days of a 30-day month
    assert prorate_cents(1000, "USD", 22, 30) == 733


# -- tier bounds -------------------------------------------------------------------------------------

def test_graduated_boundaries_and_flat_amounts():
    properties = {"graduated_ranges": tiers((0, 10, "10", "2"), (11, 20, "5", "3"), (21, None, "5", "3"))}
    cases = {0: 2, 1: 12, 10: 102, 11: 110, 20: 155, 21: 163, Decimal("10.5"): Decimal("107.5")}
    for units, expected in cases.items():
        assert price_graduated(units, properties, "USD").precise_amount == Decimal(expected), units


def test_volume_picks_tier_holding_total_and_zero_units_bill_the_first_flat_fee():
    properties = {"volume_ranges": tiers((0, 100, "2", "10"), (101, 200, "1", "0"), (201, None, "0.5", "50"))}
    assert price_volume(0, properties, "USD").amount_cents == 1000  # Lago: tier 1 holds 0 units
    assert price_volume(100, properties, "USD").precise_amount == Decimal("210")
    assert price_volume(101, properties, "USD").precise_amount == Decimal("101")
    assert price_volume(Decimal("100.5"), properties, "USD").precise_amount == Decimal("100.5")
    assert price_volume(300, properties, "USD").precise_amount == Decimal("200")


def test_package_with_no_free_units_and_exact_multiples():
    properties = {"amount": "30", "package_size": 1000}
    assert [price_package(u, properties, "USD").amount_cents for u in (0, 1, 1000, 1001, 2000)] == [
        0, 3000, 3000, 6000, 6000,
    ]


def test_percentage_min_max_bound_each_transaction():
    properties = {"rate": "1", "fixed_amount": "0.5", "per_transaction_min_amount": "1.75",
                  "per_transaction_max_amount": "3.75"}
    # 10 → 0.60 raised to 1.75; 200 → 2.50 unchanged; 1000 → 10.50 lowered to 3.75
    result = price_percentage(0, properties, "USD", ["10", "200", "1000"])
    assert result.precise_amount == Decimal("8.00")
    assert result.details["min_max_adjustment_total_amount"] == "-5.6"  # +1.15 − 6.75
    assert sum(line.amount for line in result.lines) == result.precise_amount


def test_percentage_free_amount_crossed_mid_transaction():
    result = price_percentage(0, {"rate": "10", "fixed_amount": "1", "free_units_per_total_aggregation": "100"},
                              "USD", ["60", "60", "30"])
    # 60 free; 60 crosses 100: 20 paid + fee; 30 paid + fee → (20 + 30) × 10 % + 2 = 7.00
    assert result.amount_cents == 700
    assert result.details["paid_events"] == 2


def test_percentage_free_events_only_and_single_transaction_mode():
    props = {"rate": "2", "fixed_amount": "0.25", "free_units_per_events": 2}
    assert price_percentage(0, props, "USD", ["100", "100", "100"]).amount_cents == 225
    assert price_percentage(100, {"rate": "2"}, "USD").amount_cents == 200  # no events: one transaction
    assert price_percentage(0, {"rate": "2", "fixed_amount": "1"}, "USD").amount_cents == 0


def test_dynamic_sums_event_amounts_and_rounds_once():
    assert price_dynamic(3, ["10.4", "10.4", "10.4"], "USD").amount_cents == 31  # 31.2 cents → 31
    assert price_dynamic(0, ["1000"], "USD").amount_cents == 0
    assert price_dynamic(2, ["150", "-50"], "JPY").amount_cents == 100


def test_rounding_is_half_up_once_at_the_currency_exponent():
    assert price_standard(1, {"amount": "0.005"}, "USD").amount_cents == 1
    assert price_standard(3, {"amount": "0.0015"}, "USD").amount_cents == 0  # 0.0045: rounded once, not per unit
    assert price_standard(1, {"amount": "10.5"}, "JPY").amount_cents == 11
    assert price_standard(1, {"amount": "1.0005"}, "BHD").amount_cents == 1001
    assert price_standard(-3, {"amount": "0.5"}, "USD").amount_cents == -150


def test_huge_numbers_stay_exact():
    result = price_standard("99999999999999999999", {"amount": "99999999999999999999.99999999999999999999"}, "USD")
    with localcontext(prec=100):
        assert result.precise_amount == Decimal("99999999999999999999") * Decimal(
            "99999999999999999999.99999999999999999999"
        )
    assert result.amount_cents == 999999999999999999989999999999999999999900


# -- validation --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "properties", "codes"), [
    ("standard", {}, ["invalid_amount"]),
    ("standard", {"amount": 0.5}, ["invalid_amount"]),
    ("standard", {"amount": "-1"}, ["invalid_amount"]),
    ("standard", {"amount": "1e3"}, ["invalid_amount"]),
    ("standard", {"amount": "1" * 21}, ["invalid_amount"]),
    ("package", {"amount": "1", "package_size": 0}, ["invalid_package_size"]),
    ("package", {"amount": "1", "package_size": 10, "free_units": -1}, ["invalid_free_units"]),
    ("package", {"amount": "x", "package_size": True}, ["invalid_amount", "invalid_package_size"]),
    ("graduated", {}, ["missing_graduated_ranges"]),
    ("graduated", {"graduated_ranges": tiers((2, None, "1", "0"))}, ["invalid_graduated_ranges"]),  # not from 0/1
    ("graduated", {"graduated_ranges": tiers((0, 10, "1", "0"), (9, None, "1", "0"))}, ["invalid_graduated_ranges"]),
    ("graduated", {"graduated_ranges": tiers((0, 10, "1", "0"), (12, None, "1", "0"))}, ["invalid_graduated_ranges"]),
    ("graduated", {"graduated_ranges": tiers((0, 10, "1", "0"), (11, 20, "1", "0"))}, ["invalid_graduated_ranges"]),
    ("graduated", {"graduated_ranges": tiers((0, 0, "1", "0"), (1, None, "1", "0"))}, ["invalid_graduated_ranges"]),
    ("graduated", {"graduated_ranges": tiers((0, None, "-1", "0"))}, ["invalid_amount"]),
    ("volume", {"volume_ranges": []}, ["missing_volume_ranges"]),
    ("volume", {"volume_ranges": tiers((0, 5, "1", "0"), (3, None, "1", "0"))}, ["invalid_volume_ranges"]),
    ("graduated_percentage", {"graduated_percentage_ranges": tiers((0, None, "x", "0"), price_field="rate")},
     ["invalid_rate"]),
    ("percentage", {}, ["invalid_rate"]),
    ("percentage", {"rate": "1", "fixed_amount": "-1"}, ["invalid_fixed_amount"]),
    ("percentage", {"rate": "1", "free_units_per_events": 0}, ["invalid_free_units_per_events"]),
    ("percentage", {"rate": "1", "free_units_per_total_aggregation": "a"},
     ["invalid_free_units_per_total_aggregation"]),
    ("percentage", {"rate": "1", "per_transaction_min_amount": "5", "per_transaction_max_amount": "1"},
     ["per_transaction_max_lower_than_per_transaction_min"]),
])
def test_invalid_properties_carry_lagos_codes(model, properties, codes):
    assert validate_properties(model, properties) == codes
    with pytest.raises(InvalidProperties):
        price_charge(model, properties, "USD", units=1)


def test_grouping_keys_are_validated_but_not_priced():
    assert validate_properties("standard", {"amount": "1", "pricing_group_keys": [1]}) == ["invalid_pricing_group_keys"]
    assert validate_properties("standard", {"amount": "1", "presentation_group_keys": [{"value": "region"}]}) == []


def test_valid_properties_and_cleaning():
    assert validate_properties("graduated", LAGO_GRADUATED) == []
    assert validate_properties("dynamic", {}) == []
    assert clean_properties("standard", {"amount": "1", "volume_ranges": [], "grouped_by": ["region", ""]}) == {
        "amount": "1", "pricing_group_keys": ["region"],
    }
    assert clean_properties("package", {"amount": "1", "package_size": 2, "rate": "3"}) == {
        "amount": "1", "package_size": 2,
    }


def test_bad_units_are_refused():
    with pytest.raises(PricingError):
        price_standard(1.5, {"amount": "1"}, "USD")
    with pytest.raises(PricingError):
        price_graduated(-1, LAGO_GRADUATED, "USD")
    with pytest.raises(PricingError):
        price_volume("NaN", LAGO_VOLUME, "USD")
    with pytest.raises(PricingError):
        price_charge("custom", {}, "USD", units=1)


# -- proration, units, minimums -------------------------------------------------------------------

def test_proration_helpers():
    assert days_inclusive(date(2024, 6, 9), date(2024, 6, 30)) == 22
    assert period_ratio(date(2024, 6, 1), date(2024, 6, 30), date(2024, 6, 9), date(2024, 7, 15)) == ratio(22, 30)
    assert ratio(40, 30) == 1 and ratio(-1, 30) == 0
    assert prorate_cents(1000, "JPY", 1, 3) == 333
    assert prorate_cents(100, "USD", 1, 2) == 50
    with pytest.raises(ValueError):
        ratio(1, 0)
    seat = price_standard(3, {"amount": "10"}, "USD")
    assert prorate_result(seat, 15, 30).amount_cents == 1500


def test_minimum_true_up_and_unit_rounding():
    assert minimum_true_up_cents(800, 1000) == 200
    assert minimum_true_up_cents(1200, 1000) == 0
    assert minimum_true_up_cents(5, 0) == 0
    assert round_units(Decimal("1.25"), "round", 1) == Decimal("1.3")
    assert round_units(Decimal("1.21"), "ceil", 1) == Decimal("1.3")
    assert round_units(Decimal("129"), "floor", -1) == Decimal("1.2E+2")
    assert round_units(Decimal("1.21"), None) == Decimal("1.21")


def test_result_as_dict_is_json_ready():
    data = price_graduated(250, LAGO_GRADUATED, "USD").as_dict()
    assert data["amount_cents"] == 15_500 and data["precise_amount"] == "155"
    assert [line["units"] for line in data["lines"]] == ["100", "100", "50"]
    assert data["lines"][0]["label"] == "Tier 1 (0 – 100)"


def test_adjacent_tiers_are_valid_and_cover_units_above_the_previous_to_value():
    """lago-api `Validators::RangeBoundsValidator`: a tier may start at the previous `to_value`."""
    adjacent = {"graduated_ranges": tiers((0, 100, "1", "0"), (100, None, "0.5", "1"))}
    assert validate_properties("graduated", adjacent) == []
    assert price_graduated(100, adjacent, "USD").precise_amount == Decimal("100")
    assert price_graduated(150, adjacent, "USD").precise_amount == Decimal("126")  # 100 + 50 × 0.5 + 1
    volume = {"volume_ranges": tiers((0, 100, "1", "0"), (100, None, "0.5", "0"))}
    assert price_volume(100, volume, "USD").precise_amount == Decimal("100")
    assert price_volume(Decimal("100.5"), volume, "USD").precise_amount == Decimal("50.25")


def test_negative_units_or_amounts_are_floored_at_zero():
    """lago-api `Fees::ChargeService#init_fee`: negative units or amount → a fee of 0 units, 0 amount."""
    result = price_charge("standard", {"amount": "1"}, "USD", units=Decimal(-20))
    assert (result.units, result.amount_cents, result.details) == (0, 0, {"floored_at_zero": True})
    assert price_charge("graduated", LAGO_GRADUATED, "USD", units=-1).amount_cents == 0
    with pytest.raises(InvalidProperties):
        price_charge("standard", {"amount": "x"}, "USD", units=-1)
