"""Rounding of aggregated units as a billable metric asks (`rounding_function`, `rounding_precision`).

    round → half-up, ceil → towards +∞, floor → towards −∞, at `precision` decimal places
    (negative precision rounds to tens, hundreds…). No function: units unchanged.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from invora.pricing.decimals import pricing_context

ROUNDING_FUNCTIONS = ("round", "ceil", "floor")
_MODES = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}


def round_units(units: Decimal, function: str | None, precision: int | None = 0) -> Decimal:
    if function is None:
        return units
    if function not in _MODES:
        raise ValueError(f"unknown rounding function: {function!r}")
    with pricing_context():
        return units.quantize(Decimal(1).scaleb(-(precision or 0)), rounding=_MODES[function])
