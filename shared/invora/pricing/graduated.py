"""Graduated: each tier prices the units that fall inside it, plus the flat amount of every tier reached.

    amount = Σ over tiers (units inside the tier × per_unit_amount)
           + Σ over tiers reached (flat_amount): the first always, a next one once units exceed the previous to_value

With tiers 0–100 at 1.00, 101–200 at 0.50 and 201–∞ at 0.10, 250 units cost
100 × 1.00 + 100 × 0.50 + 50 × 0.10 = 155.00. At 0 units the first tier's flat amount is
still billed (Lago, lago-api PR #5760).
Tier bounds follow Lago's convention (see `invora.pricing.tiers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from invora.pricing.decimals import as_units
from invora.pricing.properties import InvalidProperties
from invora.pricing.result import ChargeResult, line
from invora.pricing.tiers import GRADUATED, Tier, parse_tiers

MODEL = "graduated"


@dataclass(frozen=True, slots=True)
class GraduatedProperties:
    tiers: tuple[Tier, ...]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> GraduatedProperties:
        tiers, errors = parse_tiers(raw.get(GRADUATED.key), GRADUATED)
        if errors:
            raise InvalidProperties(errors)
        return cls(tiers)


def price(units: Any, properties: Mapping[str, Any] | GraduatedProperties, currency: str) -> ChargeResult:
    props = properties if isinstance(properties, GraduatedProperties) else GraduatedProperties.parse(properties)
    total_units = as_units(units)
    lines = []
    for tier in props.tiers:
        if tier.number > 1 and total_units <= tier.lower:
            break  # not reached (the first tier always is: its flat amount is billed even at 0 units)
        inside = tier.units_in(total_units)
        lines.append(line("tier", tier.label(), inside, tier.per_unit, tier.flat_amount,
                          from_value=tier.from_value, to_value=tier.to_value))
    return ChargeResult.build(MODEL, currency, total_units, lines)
