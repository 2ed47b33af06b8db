"""Graduated percentage: each tier takes its rate on the amount inside it, plus the flat amount of every tier reached.

    amount = Σ over tiers (units inside the tier × rate / 100)
           + Σ over tiers reached (flat_amount): the first always, a next one once units exceed the previous to_value

Units here are amounts transacted (a `sum_agg` of e.g. payment amounts). With tiers
0–1,000 at 1 % + 200, 1,001–10,000 at 2 % + 300 and 10,001–∞ at 3 % + 400: a total of 500
costs 205.00, 1,050 costs 511.00 and 5,050 costs 591.00 (Lago's documented example, where each
transaction's price is the difference between two totals). Tier bounds as in `invora.pricing.tiers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from invora.pricing.decimals import HUNDRED, as_units, fmt, pricing_context
from invora.pricing.properties import InvalidProperties
from invora.pricing.result import ChargeResult, line
from invora.pricing.tiers import GRADUATED_PERCENTAGE, Tier, parse_tiers

MODEL = "graduated_percentage"


@dataclass(frozen=True, slots=True)
class GraduatedPercentageProperties:
    tiers: tuple[Tier, ...]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> GraduatedPercentageProperties:
        tiers, errors = parse_tiers(raw.get(GRADUATED_PERCENTAGE.key), GRADUATED_PERCENTAGE)
        if errors:
            raise InvalidProperties(errors)
        return cls(tiers)


def price(units: Any, properties: Mapping[str, Any] | GraduatedPercentageProperties, currency: str) -> ChargeResult:
    props = (properties if isinstance(properties, GraduatedPercentageProperties)
             else GraduatedPercentageProperties.parse(properties))
    total_units = as_units(units)
    lines = []
    for tier in props.tiers:
        if tier.number > 1 and total_units <= tier.lower:
            break  # not reached (the first tier always is: its flat amount is billed even at 0 units)
        inside = tier.units_in(total_units)
        with pricing_context():
            per_unit = tier.per_unit / HUNDRED
        lines.append(line("tier", f"{tier.label()} at {fmt(tier.per_unit)} %", inside, per_unit, tier.flat_amount,
                          from_value=tier.from_value, to_value=tier.to_value))
    return ChargeResult.build(MODEL, currency, total_units, lines)
