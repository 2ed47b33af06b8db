"""Tiers (Lago "ranges") shared by the graduated, volume and graduated-percentage models.

A tier is `{"from_value": 0, "to_value": 100, "per_unit_amount": "1", "flat_amount": "0"}` with
integer bounds, as Lago validates them (`Validators::RangeBoundsValidator`): every tier starts at
the previous tier's `to_value` (adjacent: `0–100, 100–∞`) or one above it (`0–100, 101–∞`), the
first at 0 or 1, every `to_value` is above its `from_value`, and only the last tier is open
(`to_value: null`). Either way tier *k* covers the half-open interval `(previous to_value, to_value]`
of units: 100 units fall in the first tier, 100.5 in the second.

At 0 units the first tier is the one reached: graduated, graduated-percentage and volume charges
bill its `flat_amount` (Lago, since lago-api PR #5760).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from invora.pricing.decimals import MAX_TIERS, ZERO, parse_amount, parse_count, pricing_context


@dataclass(frozen=True, slots=True)
class Tier:
    number: int  # 1-based position
    from_value: int
    to_value: int | None
    per_unit: Decimal  # per-unit price, or the rate in percent for graduated_percentage
    flat_amount: Decimal
    previous_to: int = 0  # the previous tier's `to_value` (0 for the first tier)

    @property
    def lower(self) -> Decimal:
        """Exclusive lower bound in units: the previous tier's `to_value` (0 for the first tier)."""
        return Decimal(self.previous_to)

    def units_in(self, total: Decimal) -> Decimal:
        """How many of `total` units fall inside this tier."""
        with pricing_context():
            upper = total if self.to_value is None else min(total, Decimal(self.to_value))
            return max(upper - self.lower, ZERO)

    def holds(self, total: Decimal) -> bool:
        """Whether a total of `total` units lands in this tier (volume pricing); 0 lands in the first."""
        above = total > self.lower or (self.number == 1 and total == 0)
        return above and (self.to_value is None or total <= self.to_value)

    def label(self) -> str:
        upper = "∞" if self.to_value is None else str(self.to_value)
        return f"Tier {self.number} ({self.from_value} – {upper})"


@dataclass(frozen=True, slots=True)
class RangeSpec:
    key: str  # graduated_ranges | volume_ranges | graduated_percentage_ranges
    price_field: str  # per_unit_amount | rate
    missing_code: str
    invalid_code: str
    price_code: str  # invalid_amount | invalid_rate


GRADUATED = RangeSpec("graduated_ranges", "per_unit_amount", "missing_graduated_ranges", "invalid_graduated_ranges",
                      "invalid_amount")
VOLUME = RangeSpec("volume_ranges", "per_unit_amount", "missing_volume_ranges", "invalid_volume_ranges",
                   "invalid_amount")
GRADUATED_PERCENTAGE = RangeSpec("graduated_percentage_ranges", "rate", "missing_graduated_percentage_ranges",
                                 "invalid_graduated_percentage_ranges", "invalid_rate")


def parse_tiers(raw: Any, spec: RangeSpec) -> tuple[tuple[Tier, ...], list[str]]:
    """Parse and validate a list of ranges; returns the tiers and Lago's error codes (empty when valid)."""
    if not isinstance(raw, list) or not raw:
        return (), [spec.missing_code]
    if len(raw) > MAX_TIERS:
        return (), [spec.invalid_code]
    errors: list[str] = []
    tiers: list[Tier] = []
    previous_to = 0
    for index, item in enumerate(raw):
        last = index == len(raw) - 1
        if not isinstance(item, dict):
            _add(errors, spec.invalid_code)
            continue
        price = parse_amount(item.get(spec.price_field))
        flat = parse_amount(item.get("flat_amount"))
        if price is None:
            _add(errors, spec.price_code)
        if flat is None:
            _add(errors, "invalid_amount")
        from_value = parse_count(item.get("from_value"))
        raw_to = item.get("to_value")
        to_value = None if raw_to is None else parse_count(raw_to)
        bounds_ok = (
            from_value is not None and from_value in (previous_to, previous_to + 1)
            and (raw_to is None if last else (to_value is not None and to_value > from_value))
        )
        if not bounds_ok:
            _add(errors, spec.invalid_code)
        if price is not None and flat is not None and bounds_ok:
            tiers.append(Tier(index + 1, from_value or 0, to_value, price, flat, previous_to))
        previous_to = to_value if to_value is not None else 0
    return tuple(tiers), errors


def _add(errors: list[str], code: str) -> None:
    if code not in errors:
        errors.append(code)
