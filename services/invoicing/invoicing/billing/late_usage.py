"""Late usage of a period whose invoice is final: what is still to bill (pure, property-tested).

The period's charges are priced again with the revised usage; each fee slot (charge, charge filter,
pricing group, true-up) is compared with what the period's final invoices already billed for it, and
the positive difference becomes a fee of a follow-up invoice. A slot whose revised amount is below
what was billed (usage can go down: a `max`, `latest` or signed `sum` aggregation) is not billed and not
credited here: that belongs to credit notes (`uncredited` reports it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Line = tuple[int, list[Any], dict[str, Any]]


def slot_key(charge_id: Any, charge_filter_id: Any, grouped_by: Mapping[str, Any] | None, true_up: Any) -> str:
    return "|".join((str(charge_id), str(charge_filter_id or ""), json.dumps(dict(grouped_by or {}), sort_keys=True),
                     "true_up" if true_up else ""))


@dataclass(frozen=True, slots=True)
class Billed:
    amount_cents: int = 0
    units: Decimal = Decimal(0)
    events_count: int = 0

    def plus(self, amount_cents: int, units: Decimal, events_count: int | None) -> Billed:
        return Billed(self.amount_cents + amount_cents, self.units + units, self.events_count + (events_count or 0))

    def dump(self) -> dict[str, Any]:
        return {"amount_cents": self.amount_cents, "units": str(self.units), "events_count": self.events_count}

    @classmethod
    def load(cls, value: Mapping[str, Any]) -> Billed:
        return cls(int(value["amount_cents"]), Decimal(value["units"]), int(value["events_count"]))


@dataclass(frozen=True, slots=True)
class Difference:
    lines: list[Line]
    uncredited_cents: int  # revised below billed, summed over slots: for credit notes, not billed


def difference(revised: Iterable[Line], billed: Mapping[str, Billed], currency_exponent: int) -> Difference:
    lines: list[Line] = []
    uncredited = 0
    for amount, taxes, payload in revised:
        if payload.get("fee_type") != "charge":
            continue
        key = slot_key(payload.get("charge_id"), payload.get("charge_filter_id"), payload.get("grouped_by"),
                       (payload.get("item") or {}).get("true_up"))
        before = billed.get(key, Billed())
        extra = amount - before.amount_cents
        if extra < 0:
            uncredited += -extra
        if extra <= 0:
            continue
        units = max(Decimal(payload["units"]) - before.units, Decimal(0))
        events = max((payload.get("events_count") or 0) - before.events_count, 0)
        lines.append((extra, taxes, {
            **payload, "amount_cents": extra, "precise_amount_cents": Decimal(extra), "units": units,
            "total_aggregated_units": None,
            "events_count": events,
            "precise_unit_amount": (Decimal(extra) / units).scaleb(-currency_exponent) if units else Decimal(0),
            "description": "late usage: the period's usage revised after its invoice was finalized",
            "amount_details": {**(payload.get("amount_details") or {}), "late_usage": {
                "revised_amount_cents": amount, "previously_billed_amount_cents": before.amount_cents,
                "revised_units": str(payload["units"]), "previously_billed_units": str(before.units)}},
        }))
    return Difference(lines, uncredited)
