"""Aggregation of rollups into units, pure (no I/O).

A rollup row (`Bucket`) holds one subscription's running aggregates for one metric, filter group
and billing period, so a charge's units come from O(groups) rows whatever the number of events:

- count: Σ events; sum: Σ values; max: the largest value (0 without events);
- latest: the value of the event with the latest timestamp (0 without events);
- weighted sum: the running total (each event adds its value) integrated over the period and
  divided by its duration; `weighted_moment` = Σ value × epoch seconds makes the integral
  `carried × duration + Σ (end × value_sum − weighted_moment)`; a recurring metric carries in the
  total of every earlier period;
- unique count: the values present at the end (`unique_count`, kept by ingestion from each
  value's latest operation, add or remove);
- then the metric's rounding (`round` half-up, `ceil`, `floor`, at `rounding_precision`).

`precise_sum` (Σ the events' `precise_total_amount_cents`) is what a `dynamic` charge prices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from subscriptions.usage_events.metrics import Metric
from subscriptions.usage_events.store import epoch_seconds

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

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Bucket:
        return cls(group=json.loads(row["group_key"]) if row["group_key"] else {},
                   events_count=row["events_count"], value_sum=row["value_sum"], value_max=row["value_max"],
                   latest_value=row["latest_value"], latest_at=row["latest_at"],
                   weighted_moment=row["weighted_moment"], unique_count=row["unique_count"],
                   precise_sum=row["precise_sum"])


@dataclass(frozen=True, slots=True)
class Aggregate:
    units: Decimal
    events_count: int


def rounded(metric: Metric, units: Decimal) -> Decimal:
    if metric.rounding_function is None:
        return units
    exponent = Decimal(1).scaleb(-(metric.rounding_precision or 0))
    mode = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}[metric.rounding_function]
    return units.quantize(exponent, rounding=mode)


def aggregate(metric: Metric, buckets: Sequence[Bucket], start: datetime, end: datetime,
              carried: Decimal = ZERO) -> Aggregate:
    """Units of `metric` over [start, end) from the period's buckets."""
    events = sum(b.events_count for b in buckets)
    kind = metric.aggregation_type
    if kind == "count_agg":
        units = Decimal(events)
    elif kind == "sum_agg":
        units = sum((b.value_sum for b in buckets), ZERO)
    elif kind == "max_agg":
        units = max((b.value_max for b in buckets if b.value_max is not None), default=ZERO)
    elif kind == "latest_agg":
        latest = [b for b in buckets if b.latest_at is not None]
        units = max(latest, key=lambda b: b.latest_at).latest_value if latest else ZERO
    elif kind == "weighted_sum_agg":
        duration = epoch_seconds(end) - epoch_seconds(start)
        integral = carried * duration + sum(
            (epoch_seconds(end) * b.value_sum - b.weighted_moment for b in buckets), ZERO)
        units = integral / duration if duration > 0 else ZERO
    elif kind == "unique_count_agg":
        units = Decimal(sum(b.unique_count for b in buckets))
    else:
        raise ValueError(f"{kind} is not aggregated from rollups")
    return Aggregate(rounded(metric, units), events)


def matches(values: Mapping[str, Iterable[str]], group: Mapping[str, str]) -> bool:
    for key, allowed in values.items():
        allowed = list(allowed)
        if key not in group or (ALL_VALUES not in allowed and group[key] not in allowed):
            return False
    return True


def slot_of(filters: Sequence[Mapping[str, Any]], group: Mapping[str, str]) -> int | None:
    """The most specific charge filter (most keys first) a group matches; None: the default."""
    order = sorted(range(len(filters)), key=lambda i: -len(filters[i].get("values") or {}))
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
