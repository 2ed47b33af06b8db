"""What a charge model returns: the amount (precise and rounded) and a breakdown an invoice can print."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from invora.pricing.decimals import MAX_FRACTION_DIGITS, PRICING_CONTEXT, ZERO, finalize, fmt, pricing_context

_DISPLAY_QUANTUM = Decimal(1).scaleb(-MAX_FRACTION_DIGITS)


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One printable line of a charge: a tier, the packages, the rate, the fixed fees…

    `amount` is precise (unrounded, major units) and equals `units * unit_amount + flat_amount`
    for every line except the percentage model's adjustment line, whose `amount` is the
    correction that per-transaction minimums and maximums made.
    """

    kind: str  # tier | units | packages | free | rate | fixed_fees | min_max_adjustment | events
    label: str
    units: Decimal
    unit_amount: Decimal
    flat_amount: Decimal
    amount: Decimal
    from_value: int | None = None
    to_value: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "units": fmt(self.units),
            "unit_amount": fmt(self.unit_amount),
            "flat_amount": fmt(self.flat_amount),
            "amount": fmt(self.amount),
            "from_value": self.from_value,
            "to_value": self.to_value,
        }


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """The price of `units` under one charge model.

    `precise_amount` is in major units and never rounded; `amount_cents` is that amount rounded
    once, half-up, to the currency's minor units (cents for USD, yen for JPY, fils for BHD).
    """

    charge_model: str
    currency: str
    units: Decimal
    precise_amount: Decimal
    amount_cents: int
    lines: tuple[PriceLine, ...] = ()
    events_count: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls, charge_model: str, currency: str, units: Decimal, lines: list[PriceLine], *,
        precise_amount: Decimal | None = None, events_count: int | None = None, details: dict | None = None,
    ) -> ChargeResult:
        with pricing_context():
            total = precise_amount if precise_amount is not None else sum((line.amount for line in lines), ZERO)
        return cls(
            charge_model=charge_model, currency=currency.upper(), units=units, precise_amount=total,
            amount_cents=finalize(total, currency), lines=tuple(lines), events_count=events_count,
            details=details or {},
        )

    @property
    def unit_amount(self) -> Decimal:
        """Average price per unit (precise); 0 when there are no units."""
        if not self.units:
            return ZERO
        with pricing_context():
            return self.precise_amount / self.units

    def prorated(self, ratio: Decimal) -> ChargeResult:
        """The same charge scaled by a proration ratio (see `invora.pricing.proration`), rounded once."""
        if not isinstance(ratio, Decimal) or not ratio.is_finite() or ratio < 0:
            raise ValueError("a proration ratio is a finite, non-negative Decimal")
        with pricing_context():
            total = self.precise_amount * ratio
        details = {**self.details, "proration_ratio": fmt(ratio), "full_precise_amount": fmt(self.precise_amount)}
        return replace(self, precise_amount=total, amount_cents=finalize(total, self.currency), details=details)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (decimals as strings), for fee details and events."""
        return {
            "charge_model": self.charge_model,
            "currency": self.currency,
            "units": fmt(self.units),
            "precise_amount": fmt(self.precise_amount),
            "amount_cents": self.amount_cents,
            "unit_amount": fmt(self.unit_amount.quantize(_DISPLAY_QUANTUM, context=PRICING_CONTEXT)),
            "events_count": self.events_count,
            "lines": [line.as_dict() for line in self.lines],
            "details": self.details,
        }


def line(
    kind: str, label: str, units: Decimal, unit_amount: Decimal, flat_amount: Decimal = ZERO, *,
    from_value: int | None = None, to_value: int | None = None, amount: Decimal | None = None,
) -> PriceLine:
    with pricing_context():
        total = amount if amount is not None else units * unit_amount + flat_amount
    return PriceLine(kind, label, units, unit_amount, flat_amount, total, from_value, to_value)

