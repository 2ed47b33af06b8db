"""Charge fees of a closed period: its usage snapshot priced again with `invora.pricing`.

One fee per charge, or per charge filter (the default last) when the charge has filters, and per
pricing group when it groups (`grouped_by`). Properties come from the subscription's overrides when it
overrides the charge (matched by charge id or code, as the subscriptions service does), else from the
plan version. A charge whose fees add up to less than its `min_amount_cents` gets a true-up fee for the
difference (not prorated). Pay-in-advance charges and non-invoiceable ones are not billed here.

**Unit credits** (seed 002, `credited`: units of a metric the customer's grants covered for this invoice)
offset the metric's units *before* pricing: taken from the metric's fee slots in order (charge, then
filter/group as the snapshot lists them), each slot priced on its units left over. A charge priced on its
event values (`percentage`, `dynamic`) is not offset. The slot's fee shows `units` = the units priced and
`amount_details.unit_credits` = `{usage_units, credited_units}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from invora.events.contracts.subscriptions import ChargeUsageSnapshot, FilterUsageSnapshot, UsageSnapshot
from invora.money import exponent
from invora.pricing import price_charge
from invora.pricing.proration import minimum_true_up_cents


@dataclass(slots=True)
class ChargeFeeLine:
    charge: Mapping[str, Any]
    metric_code: str
    metric_name: str
    units: Decimal
    events_count: int
    amount_cents: int
    precise_amount_cents: Decimal
    charge_filter_id: str | None = None
    filter_display_name: str | None = None
    grouped_by: dict[str, Any] = field(default_factory=dict)
    amount_details: dict[str, Any] = field(default_factory=dict)
    true_up: bool = False
    # Lago's `total_aggregated_units`: the snapshot's (a weighted sum's Σ event values); None: the units
    total_aggregated_units: Decimal | None = None
    # units of the slot that unit credits offset before pricing (`units` is what was priced)
    credited_units: Decimal = Decimal(0)


def terms(charge: Mapping[str, Any], overrides: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[Any]]:
    for override in overrides.get("charges") or []:
        if override.get("id") == str(charge["lago_id"]) or override.get("code") == charge.get("code"):
            return override.get("properties") or charge["properties"], override.get("filters") or charge.get(
                "filters") or []
    return charge.get("properties") or {}, charge.get("filters") or []


def _slot_properties(entry: FilterUsageSnapshot, properties: Mapping[str, Any],
                     filters: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], str | None]:
    if entry.values is None and entry.lago_charge_filter_id is None:
        return properties, None
    for charge_filter in filters:
        same_id = entry.lago_charge_filter_id is not None and str(charge_filter.get("lago_id")) == str(
            entry.lago_charge_filter_id)
        if same_id or (entry.lago_charge_filter_id is None and charge_filter.get("values") == entry.values):
            found_id = charge_filter.get("lago_id")
            return charge_filter.get("properties") or properties, None if found_id is None else str(found_id)
    return properties, None if entry.lago_charge_filter_id is None else str(entry.lago_charge_filter_id)


def _total(entry: Any) -> Decimal | None:
    """The slot's `total_aggregated_units` when it is not its units (a weighted sum: Σ event values, Lago's)."""
    total = getattr(entry, "total_aggregated_units", None)
    if total in (None, "") or Decimal(total) == Decimal(entry.units):
        return None
    return Decimal(total)


NOT_OFFSET_MODELS = frozenset({"percentage", "dynamic"})


def plain(units: Decimal) -> str:
    """Units as a plain decimal string without trailing zeros (`10000`, `2.5`)."""
    return format(units.normalize(), "f")


def offsettable(charge: Mapping[str, Any]) -> bool:
    """Whether unit credits may offset this charge's units (priced on units, not on event values)."""
    return charge.get("charge_model") not in NOT_OFFSET_MODELS


def _line(charge: Mapping[str, Any], usage: ChargeUsageSnapshot, properties: Mapping[str, Any], currency: str,
          units: str, events_count: int, event_values: list[str] | None, pool: dict[str, Decimal] | None = None,
          **extra: Any) -> ChargeFeeLine:
    values = None if event_values is None else [Decimal(v) for v in event_values]
    model = charge["charge_model"]
    if model == "dynamic" and values is None:
        values = []
    usage_units = Decimal(units)
    code = usage.billable_metric.code
    credited = Decimal(0)
    if pool and pool.get(code, 0) > 0 and offsettable(charge) and usage_units > 0:
        credited = min(pool[code], usage_units)
        pool[code] -= credited
    result = price_charge(model, properties, currency, units=usage_units - credited, event_values=values)
    with_cents = result.precise_amount.scaleb(exponent(currency))
    details = result.as_dict()
    if credited:
        details = {**details, "unit_credits": {"usage_units": plain(usage_units), "credited_units": plain(credited)}}
    return ChargeFeeLine(charge=charge, metric_code=code, metric_name=usage.billable_metric.name,
                         # the engine's units: a refund below zero shows 0 units, as Lago's fee does
                         units=result.units, events_count=events_count, amount_cents=int(result.amount_cents),
                         precise_amount_cents=with_cents, amount_details=details, credited_units=credited, **extra)


def charge_fees(version: Mapping[str, Any], overrides: Mapping[str, Any], usage: UsageSnapshot,
                currency: str, credited: Mapping[str, Decimal] | None = None) -> list[ChargeFeeLine]:
    pool = {code: Decimal(units) for code, units in (credited or {}).items()}
    by_charge = {str(c.charge.lago_id): c for c in usage.charges_usage}
    lines: list[ChargeFeeLine] = []
    for charge in version.get("charges") or []:
        if charge.get("pay_in_advance") or charge.get("invoiceable") is False:
            continue
        found = by_charge.get(str(charge["lago_id"]))
        properties, filters = terms(charge, overrides)
        charge_lines: list[ChargeFeeLine] = []
        if found is None:
            pass
        elif found.grouped_usage:
            for group in found.grouped_usage:
                if group.filters:
                    for entry in group.filters:
                        props, filter_id = _slot_properties(entry, properties, filters)
                        charge_lines.append(_line(charge, found, props, currency, entry.units, entry.events_count,
                                                  entry.event_values, pool, charge_filter_id=filter_id,
                                                  filter_display_name=entry.invoice_display_name,
                                                  grouped_by=dict(group.grouped_by),
                                                  total_aggregated_units=_total(entry)))
                else:
                    charge_lines.append(_line(charge, found, properties, currency, group.units, group.events_count,
                                              group.event_values, pool, grouped_by=dict(group.grouped_by),
                                              total_aggregated_units=_total(group)))
        elif found.filters:
            for entry in found.filters:
                props, filter_id = _slot_properties(entry, properties, filters)
                charge_lines.append(_line(charge, found, props, currency, entry.units, entry.events_count,
                                          entry.event_values, pool, charge_filter_id=filter_id,
                                          filter_display_name=entry.invoice_display_name,
                                          total_aggregated_units=_total(entry)))
        else:
            charge_lines.append(_line(charge, found, properties, currency, found.units, found.events_count,
                                      found.event_values, pool, total_aggregated_units=_total(found)))
        lines.extend(charge_lines)
        minimum = int(charge.get("min_amount_cents") or 0)
        true_up = minimum_true_up_cents(sum(line.amount_cents for line in charge_lines), minimum)
        if true_up:
            code = found.billable_metric.code if found else str(charge.get("billable_metric_code"))
            lines.append(ChargeFeeLine(charge=charge, metric_code=code, metric_name=found.billable_metric.name
                                       if found else code, units=Decimal(1), events_count=0, amount_cents=true_up,
                                       precise_amount_cents=Decimal(true_up),
                                       amount_details={"min_amount_cents": minimum}, true_up=True))
    return lines
