"""Aggregation of rollups into units, pure (no I/O).

A rollup row (`Bucket`) holds one subscription's running aggregates for one metric, filter group
and billing period, so a charge's units come from O(groups) rows whatever the number of events:

- count: Σ events; sum: Σ values (recurring: plus the total of every earlier period); max: the
  largest value (0 without events);
- latest: the value of the event with the latest timestamp (0 without events, 0 when negative);
- weighted sum: the running total (each event adds its value) integrated over the period and
  divided by its duration; `weighted_moment` = Σ value × epoch seconds makes the integral
  `carried × duration + Σ (end × value_sum − weighted_moment)`, divided by the full billing period
  (Lago); a recurring metric carries in the total of every earlier period;
- unique count: the values present at the end (`unique_count`, kept by ingestion from each
  value's latest operation, add or remove; recurring: plus those an earlier period left present);
- then the metric's rounding (`round` half-up, `ceil`, `floor`, at `rounding_precision`).

`precise_sum` (Σ the events' `precise_total_amount_cents`) is what a `dynamic` charge prices.

Rows are also keyed by pricing group (`usage_events.pricing_groups`): a charge aggregates each of
its groups' rows apart, and `merged` folds the pricing groups of one filter group back together
(a unique value seen in two pricing groups counts once, as its latest event decided).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from subscriptions.usage_events.metrics import Metric
from subscriptions.usage_events.repository import epoch_seconds

ALL_VALUES = "__ALL_FILTER_VALUES__"
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Bucket:
    group: Mapping[str, str]
    events_count: int
    value_sum: Decimal
    value_max: Decimal | None
    latest_value: Decimal | None
    latest_at: datetime | None
    weighted_moment: Decimal
    unique_count: int = 0
    precise_sum: Decimal = ZERO
    pricing: Mapping[str, str] = field(default_factory=dict)
    group_text: str = ""
    pricing_text: str = ""

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Bucket:
        pricing_text = row.get("pricing_group") or ""
        return cls(group=json.loads(row["group_key"]) if row["group_key"] else {},
                   events_count=row["events_count"], value_sum=row["value_sum"], value_max=row["value_max"],
                   latest_value=row["latest_value"], latest_at=row["latest_at"],
                   weighted_moment=row["weighted_moment"], unique_count=row["unique_count"],
                   precise_sum=row["precise_sum"], pricing=json.loads(pricing_text) if pricing_text else {},
                   group_text=row["group_key"], pricing_text=pricing_text)


class UniqueState(NamedTuple):
    """One value's state in one rollup bucket (`usage_unique_values`)."""

    value: str
    present: bool
    last_at: datetime
    last_event_id: Any


def needs_merge(buckets: Sequence[Bucket]) -> bool:
    """Whether two of the buckets share a filter group (they differ by pricing group)."""
    return len({b.group_text for b in buckets}) < len(buckets)


def merged(buckets: Sequence[Bucket],
           states: Mapping[tuple[str, str], Sequence[UniqueState]] | None = None) -> list[Bucket]:
    """One bucket per filter group, the pricing groups folded: sums add up, the maximum and the latest
    value are taken across them, and with `states` (unique count) each value counts once, present
    when the latest of its events (by timestamp, then id) in any of them added it."""
    if not needs_merge(buckets):
        return list(buckets)
    by_group: dict[str, list[Bucket]] = {}
    for bucket in buckets:
        by_group.setdefault(bucket.group_text, []).append(bucket)
    folded = []
    for text, parts in by_group.items():
        if len(parts) == 1:
            folded.append(parts[0])
            continue
        latest = max((b for b in parts if b.latest_at is not None), key=lambda b: b.latest_at, default=None)
        unique = sum(b.unique_count for b in parts)
        if states is not None:
            decided: dict[str, UniqueState] = {}
            for part in parts:
                for state in states.get((text, part.pricing_text), ()):
                    seen = decided.get(state.value)
                    if seen is None or (state.last_at, state.last_event_id) > (seen.last_at, seen.last_event_id):
                        decided[state.value] = state
            unique = sum(1 for state in decided.values() if state.present)
        maxima = [b.value_max for b in parts if b.value_max is not None]
        folded.append(Bucket(
            group=parts[0].group, events_count=sum(b.events_count for b in parts),
            value_sum=sum((b.value_sum for b in parts), ZERO), value_max=max(maxima) if maxima else None,
            latest_value=None if latest is None else latest.latest_value,
            latest_at=None if latest is None else latest.latest_at,
            weighted_moment=sum((b.weighted_moment for b in parts), ZERO), unique_count=unique,
            precise_sum=sum((b.precise_sum for b in parts), ZERO), group_text=text,
        ))
    return folded


@dataclass(frozen=True, slots=True)
class Aggregate:
    units: Decimal
    events_count: int  # unique count: the values counted (Lago's `count` of a unique count is the count)
    total_aggregated_units: Decimal | None = None  # weighted sum: Σ event values (+ carried in); else the units


def rounded(metric: Metric, units: Decimal) -> Decimal:
    if metric.rounding_function is None:
        return units
    exponent = Decimal(1).scaleb(-(metric.rounding_precision or 0))
    mode = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}[metric.rounding_function]
    return units.quantize(exponent, rounding=mode)


def aggregate(metric: Metric, buckets: Sequence[Bucket], start: datetime, end: datetime,
              carried: Decimal = ZERO, full_period_seconds: Decimal | int | None = None) -> Aggregate:
    """Units of `metric` over [start, end) from the period's buckets.

    A weighted sum is divided by `full_period_seconds` (the whole billing period's days × 86,400, as
    Lago's `charges_duration`) when given, so a partial first period weighs its time against the full
    period (10 held for 30.5 of 31 days → 9.83871); otherwise by [start, end).
    """
    events = sum(b.events_count for b in buckets)
    kind = metric.aggregation_type
    total: Decimal | None = None
    if kind == "count_agg":
        units = Decimal(events)
    elif kind == "sum_agg":  # `carried`: a recurring metric's total of every earlier period
        units = carried + sum((b.value_sum for b in buckets), ZERO)
    elif kind == "max_agg":
        units = max((b.value_max for b in buckets if b.value_max is not None), default=ZERO)
    elif kind == "latest_agg":  # a negative latest value counts as 0 (Lago's LatestService)
        latest = [b for b in buckets if b.latest_at is not None]
        units = max(max(latest, key=lambda b: b.latest_at).latest_value if latest else ZERO, ZERO)
    elif kind == "weighted_sum_agg":
        duration = epoch_seconds(end) - epoch_seconds(start)
        divisor = Decimal(full_period_seconds) if full_period_seconds else duration
        integral = carried * duration + sum(
            (epoch_seconds(end) * b.value_sum - b.weighted_moment for b in buckets), ZERO)
        units = integral / divisor if divisor > 0 else ZERO
        total = carried + sum((b.value_sum for b in buckets), ZERO)
    elif kind == "unique_count_agg":  # `carried`: a recurring metric's values still present from earlier periods
        units = carried + sum(b.unique_count for b in buckets)
        events = int(units)
    else:
        raise ValueError(f"{kind} is not aggregated from rollups")
    return Aggregate(rounded(metric, units), events, total)


def matches(values: Mapping[str, Iterable[str]], group: Mapping[str, str]) -> bool:
    for key, allowed in values.items():
        allowed = list(allowed)
        if key not in group or (ALL_VALUES not in allowed and group[key] not in allowed):
            return False
    return True


def specificity(charge_filter: Mapping[str, Any]) -> tuple[int, int, int]:
    """Sort key of a charge filter, most specific first: more keys; then fewer `__ALL_FILTER_VALUES__`
    keys; then fewer values listed. Lago's `ChargeFilters::MatchingAndIgnoredService` gives an event
    matching two nested filters to the narrower one (the wider ignores the narrower's values)."""
    values = charge_filter.get("values") or {}
    wildcards = sum(1 for allowed in values.values() if ALL_VALUES in allowed)
    listed = sum(len(allowed) for allowed in values.values() if ALL_VALUES not in allowed)
    return (-len(values), wildcards, listed)


def _canonical(charge_filter: Mapping[str, Any]) -> str:
    values = charge_filter.get("values") or {}
    return json.dumps({k: sorted(v) for k, v in values.items()}, sort_keys=True)


def slot_of(filters: Sequence[Mapping[str, Any]], group: Mapping[str, str]) -> int | None:
    """The most specific charge filter a group matches, whatever the order the filters were given in;
    None: the default bucket. Equally specific filters that both match (Lago would count the event in
    both) are told apart by their values, so the order still does not matter; identical filters by
    position (Lago: the oldest)."""
    order = sorted(range(len(filters)), key=lambda i: (*specificity(filters[i]), _canonical(filters[i]), i))
    return next((i for i in order if matches(filters[i].get("values") or {}, group)), None)


def split_by_filters(filters: Sequence[Mapping[str, Any]],
                     buckets: Sequence[Bucket]) -> tuple[list[list[Bucket]], list[Bucket]]:
    """Each bucket to the charge filter it belongs to, else to the default."""
    matched: list[list[Bucket]] = [[] for _ in filters]
    rest: list[Bucket] = []
    for bucket in buckets:
        slot = slot_of(filters, bucket.group)
        (rest if slot is None else matched[slot]).append(bucket)
    return matched, rest
