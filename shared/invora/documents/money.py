"""Amounts on documents: exact, from integer minor units, by the currency's exponent (never floats).

`format_money(123456, "EUR") == "1,234.56 EUR"`, `format_money(1235, "JPY") == "1,235 JPY"`,
`format_money(1235, "KWD") == "1.235 KWD"`, `format_money(-5, "USD") == "-0.05 USD"`.
"""

from __future__ import annotations

from decimal import Decimal

from invora.money import as_decimal, exponent


def format_minor(minor_units: int, currency: str) -> str:
    """The amount alone (`1,234.56`), grouped by thousands, with exactly the currency's decimals."""
    if isinstance(minor_units, bool) or not isinstance(minor_units, int):
        raise TypeError("minor units are an int")
    places = exponent(currency)
    sign = "-" if minor_units < 0 else ""
    whole, fraction = divmod(abs(minor_units), 10 ** places)
    text = f"{whole:,}"
    if places:
        text += "." + str(fraction).rjust(places, "0")
    return sign + text


def format_money(minor_units: int, currency: str) -> str:
    return f"{format_minor(minor_units, currency)} {currency.upper()}"


def format_decimal(value: Decimal | int | str, *, min_places: int = 0) -> str:
    """An exact decimal (units, a unit price in major units), grouped, trailing zeros dropped but at least
    `min_places` decimals: `format_decimal("1234.5000") == "1,234.5"`, `format_decimal("12.5", min_places=2)
    == "12.50"`."""
    number = as_decimal(value)
    sign = "-" if number < 0 else ""
    number = abs(number)
    text = format(number, "f")
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) < min_places:
        fraction = fraction.ljust(min_places, "0")
    grouped = f"{int(whole):,}"
    return sign + grouped + ("." + fraction if fraction else "")


def format_unit_price(value: Decimal | int | str, currency: str) -> str:
    """A unit price in major units, exact (it may have more decimals than the currency), at least the
    currency's decimals: `format_unit_price("0.0125", "EUR") == "0.0125 EUR"`, `("5", "EUR")` → `5.00 EUR`."""
    return f"{format_decimal(value, min_places=exponent(currency))} {currency.upper()}"


def format_rate(rate: Decimal | int | str | float) -> str:
    """A tax rate in percent (`20`, `5.5`): as given, trailing zeros dropped. A float (JSON numbers of rates)
    is read through its shortest text, which is how it was written."""
    return format_decimal(str(rate) if isinstance(rate, float) else rate) + " %"
