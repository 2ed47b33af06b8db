"""Percentage: a rate on the transacted amount above the free amount, plus a fixed fee per paid transaction.

Properties: `rate` (percent), optional `fixed_amount` (per transaction), `free_units_per_events`
(N free transactions), `free_units_per_total_aggregation` (F free amount), and optional
`per_transaction_min_amount` / `per_transaction_max_amount`.

Transactions (the per-event values) are taken in order:

* The free allowance is active while fewer than N transactions were seen (when N is set) and
  the running total is below F (when F is set); whichever limit is reached first ends it.
* A transaction while the allowance is active is free — no rate, no fixed fee — when it leaves
  the running total strictly below F (or, with only N set, always). A transaction that reaches
  or crosses F pays the rate on the part above F plus the fixed fee, and ends the allowance.
* Every other transaction pays `value × rate / 100 + fixed_amount`, then is raised to the
  minimum / lowered to the maximum when those are set (they bound each paid transaction).

    amount = Σ paid transactions clamp(paid value × rate / 100 + fixed_amount, min, max)

Lago's documented example: 1.2 % + 0.10 per transaction, first 3 transactions or 500 free,
transactions 200, 100, 100, 50 → only the fourth pays: 50 × 1.2 % + 0.10 = 0.70.

Without per-event values (`event_values=None`) the total units are priced as one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from invora.pricing.decimals import HUNDRED, ZERO, as_units, fmt, parse_amount, parse_count, pricing_context
from invora.pricing.properties import InvalidProperties
from invora.pricing.result import ChargeResult, line

MODEL = "percentage"


@dataclass(frozen=True, slots=True)
class PercentageProperties:
    rate: Decimal
    fixed_amount: Decimal = ZERO
    free_units_per_events: int | None = None
    free_units_per_total_aggregation: Decimal | None = None
    per_transaction_min_amount: Decimal | None = None
    per_transaction_max_amount: Decimal | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PercentageProperties:
        errors: list[str] = []
        rate = parse_amount(raw.get("rate"))
        if rate is None:
            errors.append("invalid_rate")
        fixed = _optional(raw, "fixed_amount", parse_amount, errors, "invalid_fixed_amount")
        free_events = _optional(raw, "free_units_per_events", lambda v: parse_count(v, minimum=1), errors,
                                "invalid_free_units_per_events")
        free_amount = _optional(raw, "free_units_per_total_aggregation", parse_amount, errors,
                                "invalid_free_units_per_total_aggregation")
        minimum = _optional(raw, "per_transaction_min_amount", parse_amount, errors, "invalid_amount")
        maximum = _optional(raw, "per_transaction_max_amount", parse_amount, errors, "invalid_amount")
        if minimum is not None and maximum is not None and minimum > maximum:
            errors.append("per_transaction_max_lower_than_per_transaction_min")
        if errors:
            raise InvalidProperties(errors)
        return cls(rate, fixed or ZERO, free_events, free_amount, minimum, maximum)  # type: ignore[arg-type]

    def clamp(self, amount: Decimal) -> Decimal:
        if self.per_transaction_min_amount is not None and amount < self.per_transaction_min_amount:
            return self.per_transaction_min_amount
        if self.per_transaction_max_amount is not None and amount > self.per_transaction_max_amount:
            return self.per_transaction_max_amount
        return amount


@dataclass(frozen=True, slots=True)
class Transaction:
    """How one transaction was priced (for invoices that list them)."""

    value: Decimal
    free_value: Decimal
    paid: bool
    amount: Decimal  # after min / max
    unclamped_amount: Decimal


def price(
    units: Any, properties: Mapping[str, Any] | PercentageProperties, currency: str,
    event_values: Iterable[Any] | None = None,
) -> ChargeResult:
    props = properties if isinstance(properties, PercentageProperties) else PercentageProperties.parse(properties)
    total_units = as_units(units)
    # a transaction may be negative (a refund on a sum metric); a negative total is floored by `price_charge`
    values = [total_units] if event_values is None else [as_units(v, allow_negative=True) for v in event_values]
    if event_values is None and not total_units:
        values = []
    transactions = price_transactions(values, props)

    with pricing_context():
        free_value = sum((t.free_value for t in transactions), ZERO)
        paid_value = sum((t.value - t.free_value for t in transactions if t.paid), ZERO)
        paid = [t for t in transactions if t.paid]
        rate_per_unit = props.rate / HUNDRED
        rate_amount = paid_value * rate_per_unit
        fixed_total = props.fixed_amount * len(paid)
        total = sum((t.amount for t in paid), ZERO)
        adjustment = total - rate_amount - fixed_total
    free_events = len(transactions) - len(paid)

    lines = []
    if free_events or free_value:
        lines.append(line("free", f"{free_events} free transactions, {fmt(free_value)} free", free_value, ZERO))
    if paid:
        lines.append(line("rate", f"{fmt(props.rate)} % of {fmt(paid_value)}", paid_value, rate_per_unit))
        if props.fixed_amount:
            lines.append(line("fixed_fees", f"{len(paid)} × {fmt(props.fixed_amount)} per transaction",
                              Decimal(len(paid)), props.fixed_amount))
        if adjustment:
            lines.append(line("min_max_adjustment", "per-transaction minimum / maximum", Decimal(len(paid)), ZERO,
                              amount=adjustment))
    details = {
        "free_events": free_events, "paid_events": len(paid), "free_units": fmt(free_value),
        "paid_units": fmt(paid_value), "rate": fmt(props.rate), "fixed_fee_total_amount": fmt(fixed_total),
        "min_max_adjustment_total_amount": fmt(adjustment),
    }
    return ChargeResult.build(MODEL, currency, total_units if event_values is None else sum(values, ZERO), lines,
                              precise_amount=total, events_count=len(transactions), details=details)


def price_transactions(values: list[Decimal], props: PercentageProperties) -> list[Transaction]:
    """Price each transaction in order (see the module docstring for the rule)."""
    limit_events = props.free_units_per_events
    limit_amount = props.free_units_per_total_aggregation or None  # 0 means no free amount
    allowance = limit_events is not None or limit_amount is not None
    seen = 0
    running = ZERO
    result: list[Transaction] = []
    with pricing_context():
        for value in values:
            free_value = ZERO
            if allowance and limit_events is not None and seen >= limit_events:
                allowance = False
            if allowance:
                seen += 1
                if limit_amount is None:
                    result.append(Transaction(value, value, False, ZERO, ZERO))
                    continue
                before = running
                running += value
                if running < limit_amount:
                    result.append(Transaction(value, value, False, ZERO, ZERO))
                    continue
                free_value = limit_amount - before
                allowance = False
            raw = (value - free_value) * props.rate / HUNDRED + props.fixed_amount
            result.append(Transaction(value, free_value, True, props.clamp(raw), raw))
    return result


def _optional(raw: Mapping[str, Any], key: str, parse, errors: list[str], code: str):
    value = raw.get(key)
    if value is None:
        return None
    parsed = parse(value)
    if parsed is None:
        errors.append(code)
    return parsed
