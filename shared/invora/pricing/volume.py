"""Volume: the tier that holds the total prices every unit, plus that tier's flat amount.

    amount = units × per_unit_amount(tier holding units) + flat_amount(tier holding units)

With tiers 0–10,000 at 0.0010, 10,001–50,000 at 0.0008, 50,001–100,000 at 0.0006 and
100,001–∞ at 0.0004, each with a 10.00 flat fee, 65,000 units cost 65,000 × 0.0006 + 10 = 49.00.
At 0 units the first tier holds them: its flat amount is billed (Lago).
Tier bounds follow Lago's convention (see `invora.pricing.tiers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from invora.pricing.decimals import as_units
from invora.pricing.properties import InvalidProperties
from invora.pricing.result import ChargeResult, line
from invora.pricing.tiers import VOLUME, Tier, parse_tiers

MODEL = "volume"


@dataclass(frozen=True, slots=True)
class VolumeProperties:
    tiers: tuple[Tier, ...]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> VolumeProperties:
        tiers, errors = parse_tiers(raw.get(VOLUME.key), VOLUME)
        if errors:
            raise InvalidProperties(errors)
        return cls(tiers)

    def tier_for(self, units) -> Tier:
        return next(tier for tier in self.tiers if tier.holds(units))


def price(units: Any, properties: Mapping[str, Any] | VolumeProperties, currency: str) -> ChargeResult:
    props = properties if isinstance(properties, VolumeProperties) else VolumeProperties.parse(properties)
    total_units = as_units(units)
    tier = props.tier_for(total_units)
    lines = [line("tier", tier.label(), total_units, tier.per_unit, tier.flat_amount,
                  from_value=tier.from_value, to_value=tier.to_value)]
    return ChargeResult.build(MODEL, currency, total_units, lines, details={"tier": tier.number})
