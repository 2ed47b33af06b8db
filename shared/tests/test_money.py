"""Money: integer minor units outside, Decimal inside, half-up rounding once, never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invora.money import (
    CURRENCIES,
    UnknownCurrency,
    as_decimal,
    exponent,
    is_currency,
    minor_round,
    round_to_currency,
    to_decimal,
    to_minor,
)

currencies = st.sampled_from(sorted(CURRENCIES))
minor_amounts = st.integers(min_value=-(10**18), max_value=10**18)


@given(minor=minor_amounts, currency=currencies)
def test_minor_units_round_trip(minor, currency):
    major = to_decimal(minor, currency)
    assert to_minor(major, currency) == minor
    assert to_minor(str(major), currency) == minor
    # the decimal never carries more places than the currency has
    assert -major.as_tuple().exponent <= exponent(currency) or major == major.to_integral_value()


@given(units=st.integers(min_value=0, max_value=10**15), currency=currencies)
def test_exact_half_rounds_away_from_zero(units, currency):
    half_step = (Decimal(units) + Decimal("0.5")).scaleb(-exponent(currency))
    assert to_minor(half_step, currency) == units + 1
    assert to_minor(-half_step, currency) == -(units + 1)


@given(units=st.integers(min_value=0, max_value=10**15), currency=currencies,
       below=st.sampled_from(["0.4", "0.49", "0.4999999999"]), above=st.sampled_from(["0.5000000001", "0.51", "0.9"]))
def test_just_below_half_rounds_down_and_above_rounds_up(units, currency, below, above):
    step = exponent(currency)
    assert to_minor((Decimal(units) + Decimal(below)).scaleb(-step), currency) == units
    assert to_minor((Decimal(units) + Decimal(above)).scaleb(-step), currency) == units + 1


@given(amount=st.decimals(min_value=-10**12, max_value=10**12, allow_nan=False, allow_infinity=False, places=8),
       currency=currencies)
def test_rounding_happens_once_and_is_idempotent(amount, currency):
    rounded = round_to_currency(amount, currency)
    assert abs(rounded - amount) <= Decimal(5).scaleb(-exponent(currency) - 1)
    assert round_to_currency(rounded, currency) == rounded
    assert to_decimal(to_minor(amount, currency), currency) == rounded


@pytest.mark.parametrize("currency,places", [
    ("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0), ("KRW", 0), ("CLP", 0), ("ISK", 0),
    ("BHD", 3), ("KWD", 3), ("TND", 3), ("CLF", 4), ("UYW", 4), ("usd", 2), ("jpy", 0),
])
def test_exponents(currency, places):
    assert exponent(currency) == places
    assert is_currency(currency)


@pytest.mark.parametrize("amount,currency,minor", [
    ("12.345", "USD", 1235),
    ("12.344", "USD", 1234),
    ("-12.345", "USD", -1235),
    ("0.005", "USD", 1),
    ("0.004999", "USD", 0),
    ("100", "USD", 10000),
    ("100.5", "JPY", 101),
    ("100.49", "JPY", 100),
    ("1.2345", "BHD", 1235),
    ("1.2344", "BHD", 1234),
    ("1.23455", "CLF", 12346),
    ("0.00005", "CLF", 1),
    (Decimal("19.99"), "EUR", 1999),
    (7, "USD", 700),
    (7, "JPY", 7),
])
def test_to_minor_vectors(amount, currency, minor):
    assert to_minor(amount, currency) == minor


@pytest.mark.parametrize("minor,currency,major", [
    (1235, "USD", "12.35"), (-1, "USD", "-0.01"), (0, "USD", "0"), (5, "JPY", "5"),
    (1, "BHD", "0.001"), (1234, "BHD", "1.234"), (12346, "CLF", "1.2346"), (10**20, "USD", "1E+18"),
])
def test_to_decimal_vectors(minor, currency, major):
    assert to_decimal(minor, currency) == Decimal(major)


def test_minor_round_of_fractional_minor_units():
    assert minor_round("1234.5") == 1235
    assert minor_round(Decimal("1234.4999")) == 1234
    assert minor_round("-0.5") == -1
    assert minor_round(10) == 10


@pytest.mark.parametrize("call", [
    lambda: to_minor(1.5, "USD"),
    lambda: to_minor(0.1 + 0.2, "USD"),
    lambda: to_decimal(150.0, "USD"),
    lambda: round_to_currency(2.675, "USD"),
    lambda: as_decimal(1e3),
    lambda: minor_round(0.5),
    lambda: to_decimal(True, "USD"),
    lambda: to_decimal(Decimal("1"), "USD"),
])
def test_floats_and_non_integers_are_refused(call):
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity", "-inf", "1,5"])
def test_non_numbers_are_refused(value):
    with pytest.raises(ValueError):
        to_minor(value, "USD")


@pytest.mark.parametrize("currency", ["ABC", "US", "USDD", "", "EURO", None, 840])
def test_unknown_currency_raises(currency):
    assert not is_currency(currency)
    with pytest.raises(UnknownCurrency):
        exponent(currency)
    with pytest.raises(UnknownCurrency):
        to_minor("1", currency)
    with pytest.raises(UnknownCurrency):
        to_decimal(1, currency)


def test_unknown_currency_is_a_value_error():
    # callers validating input may catch ValueError for both bad numbers and bad currencies
    assert issubclass(UnknownCurrency, ValueError)


def test_every_currency_lago_accepts_is_known():
    # Lago's `Currency` enum (API v1) includes these; Lago clients must keep working unchanged
    lago = {"AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
            "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLF", "CLP",
            "CNY", "COP", "CRC", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ETB", "EUR", "FJD", "FKP",
            "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR", "ILS",
            "INR", "ISK", "JMD", "JPY", "KES", "KGS", "KHR", "KMF", "KRW", "KYD", "KZT", "LAK", "LBP", "LKR",
            "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRO", "MUR", "MVR", "MWK", "MXN",
            "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
            "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SEK", "SGD", "SHP", "SLL", "SOS",
            "SRD", "STD", "SZL", "THB", "TJS", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU",
            "UZS", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW"}
    assert lago <= CURRENCIES, sorted(lago - CURRENCIES)
