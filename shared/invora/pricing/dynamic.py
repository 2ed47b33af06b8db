"""Dynamic: the sum of the amounts the events carry themselves.

    amount = Σ event amounts (precise minor units) / 10^exponent(currency)

Each event brings its own price (Lago's `precise_total_amount_cents`, a decimal number of minor
units); the charge adds them up and rounds once. When the aggregated units are zero the charge
is zero whatever the amounts (Lago's rule). Amounts may be negative (a refund event).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from invora.money import exponent
from invora.pricing.decimals import ZERO, as_units, fmt, pricing_context
from invora.pricing.result import ChargeResult, line

MODEL = "dynamic"


def price(
    units: Any, event_amounts_cents: Iterable[Any], currency: str, properties: Mapping[str, Any] | None = None,
) -> ChargeResult:
    total_units = as_units(units)
    amounts = [as_units(amount, allow_negative=True) for amount in event_amounts_cents]
    if not total_units:
        return ChargeResult.build(MODEL, currency, total_units, [], events_count=len(amounts))
    with pricing_context():
        total = sum(amounts, ZERO).scaleb(-exponent(currency))
    lines = [line("events", f"{len(amounts)} events, {fmt(total)} in total", Decimal(len(amounts)), ZERO,
                  amount=total)]
    return ChargeResult.build(MODEL, currency, total_units, lines, events_count=len(amounts))
