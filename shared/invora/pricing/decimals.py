"""Exact decimal arithmetic for pricing: parsing of Lago's decimal strings and the working context.

Prices arrive as decimal strings (`"0.0006"`), counts as integers and units as whatever the
aggregation produced. Everything is turned into `Decimal` once, computed in a context wide
enough that no intermediate product is ever rounded (80 significant digits: bounded inputs of
at most 20 integer and 20 fraction digits multiply exactly), and rounded exactly once at the
end, half-up to the currency's exponent (`finalize`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import (
    ROUND_CEILING,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any

from invora.money import exponent

# Inputs are bounded so that products stay exact inside PRICING_CONTEXT.
MAX_INTEGER_DIGITS = 20
MAX_FRACTION_DIGITS = 20
MAX_TIERS = 100

_DECIMAL_STRING = re.compile(rf"^[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{0,{MAX_FRACTION_DIGITS}}})?$")

PRICING_CONTEXT = Context(
    prec=80, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow], Emin=-999999, Emax=999999
)
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


class PricingError(ValueError):
    """A pricing input the engine cannot price (negative units, a float, an unknown model…)."""


@contextmanager
def pricing_context() -> Iterator[Context]:
    with localcontext(PRICING_CONTEXT) as ctx:
        yield ctx


def parse_amount(value: Any) -> Decimal | None:
    """A non-negative decimal amount in Lago's format, or None when `value` is not one.

    Accepted: a string of digits with an optional fraction (`"10"`, `"0.0006"`, `"5."`), an int,
    or a finite non-negative `Decimal`. Refused: floats (inexact), booleans, signs, exponents,
    whitespace, and anything beyond 20 integer or 20 fraction digits.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not _DECIMAL_STRING.match(value):
            return None
        return Decimal(value)
    if isinstance(value, int):
        if 0 <= value < 10**MAX_INTEGER_DIGITS:
            return Decimal(value)
        return None
    if isinstance(value, Decimal):
        if value.is_finite() and value >= 0 and _within_bounds(value):
            return value
        return None
    return None


def parse_count(value: Any, *, minimum: int = 0) -> int | None:
    """A whole number (JSON integer, never a boolean) of at least `minimum`, or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if value < minimum or value >= 10**MAX_INTEGER_DIGITS:
        return None
    return value


def as_units(value: Any, *, allow_negative: bool = False) -> Decimal:
    """Aggregated units as a Decimal. Floats are refused: pass a str, int or Decimal."""
    if isinstance(value, (bool, float)):
        raise PricingError("units are never a float (or a bool): pass a str, int or Decimal")
    try:
        units = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise PricingError(f"not a number of units: {value!r}") from exc
    if not units.is_finite():
        raise PricingError(f"units must be finite: {value!r}")
    if units < 0 and not allow_negative:
        raise PricingError(f"units must not be negative: {value!r}")
    return units


def ceil_div(numerator: Decimal, denominator: Decimal) -> Decimal:
    """ceil(numerator / denominator) for non-negative values, exactly."""
    with pricing_context():
        return (numerator / denominator).to_integral_value(rounding=ROUND_CEILING)


def finalize(precise_amount: Decimal, currency: str) -> int:
    """Round a precise major-unit amount once, half-up, to the currency's minor units."""
    exp = exponent(currency)
    with pricing_context():
        return int(precise_amount.scaleb(exp).quantize(ONE, rounding=ROUND_HALF_UP))


def fmt(value: Decimal) -> str:
    """A Decimal as a plain string without exponent or trailing zeros (`"10"`, `"0.5"`)."""
    text = format(value.normalize(PRICING_CONTEXT), "f") if value else "0"
    return text


def _within_bounds(value: Decimal) -> bool:
    sign, digits, exp = value.as_tuple()
    if not isinstance(exp, int):
        return False
    integer_digits = max(len(digits) + exp, 0)
    fraction_digits = max(-exp, 0)
    return integer_digits <= MAX_INTEGER_DIGITS and fraction_digits <= MAX_FRACTION_DIGITS
