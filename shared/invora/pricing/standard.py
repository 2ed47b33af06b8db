"""Standard: one price per unit.

    amount = units × amount

`amount` is the unit price (a decimal string). Units may be negative here (a `sum_agg` metric
can go below zero after refunds); the amount then is negative too — the only model that is
linear and therefore the only one that accepts negative units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from invora.pricing.decimals import as_units, fmt, parse_amount
from invora.pricing.properties import InvalidProperties
from invora.pricing.result import ChargeResult, line

MODEL = "standard"


@dataclass(frozen=True, slots=True)
class StandardProperties:
    amount: Decimal

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> StandardProperties:
        amount = parse_amount(raw.get("amount"))
        if amount is None:
            raise InvalidProperties(["invalid_amount"])
        return cls(amount)


def price(units: Any, properties: Mapping[str, Any] | StandardProperties, currency: str) -> ChargeResult:
    props = properties if isinstance(properties, StandardProperties) else StandardProperties.parse(properties)
    total_units = as_units(units, allow_negative=True)
    lines = [line("units", f"{fmt(total_units)} × {fmt(props.amount)}", total_units, props.amount)]
    return ChargeResult.build(MODEL, currency, total_units, lines)
