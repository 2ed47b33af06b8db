"""Current usage of one subscription (Lago's `customer_usage`): units per charge and filter from the
rollups of the open period, priced with `invora.pricing`, taxed when asked.

A read touches the period's rollup rows (O(charges × filter groups)), plus, for recurring metrics,
the earlier periods' rollups (sum and weighted sum: the total carried in) or value states (unique
count: the values still present). Every aggregation comes
from rollups; only a `percentage` charge with a fee, a free allowance or bounds per transaction
reads its metric's events, because it prices each transaction in order.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invora.logging import get_logger
from invora.periods import Period, lago_days_between, local_date, presented_end
from invora.pricing import price_charge
from invora.pricing.decimals import finalize, pricing_context
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage import repository
from subscriptions.usage.aggregate import (
    Aggregate,
    Bucket,
    UniqueState,
    aggregate,
    merged,
    needs_merge,
    slot_of,
    split_by_filters,
)
from subscriptions.usage.errors import BillableMetricNotFound, ChargeNotFound, FullUsageNotBuilt
from subscriptions.usage_events.buckets import schedule_for
from subscriptions.usage_events.ingest import group_key, number
from subscriptions.usage_events.metrics import Metric, MetricCache, plan_metrics
from subscriptions.usage_events.pricing_groups import Keys, grouped_by, keys_of, project, text_value
from subscriptions.usage_events.repository import driver

log = get_logger(__name__)

# aggregations whose per-period rollups fold into the lifetime's (sums add up, maximum and latest are taken)
FULL_USAGE_AGGREGATIONS = frozenset({"count_agg", "sum_agg", "max_agg", "latest_agg"})


def text_units(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


# projected amount = current amount ÷ ratio (Lago's compute_projected_amount of these models); the
# others price the projected units
PROJECTED_BY_AMOUNT = frozenset({"percentage", "graduated_percentage", "dynamic"})
CARRIED_TOTALS = frozenset({"sum_agg", "weighted_sum_agg"})  # recurring: Σ values of every earlier period
ZERO = Decimal(0)
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)  # every bucket up to the period's (full usage)

Projected = tuple[str | None, ...]  # a pricing group: its values for the slot's keys (() when not grouped)


@dataclass(slots=True)
class Priced:
    units: Decimal
    events_count: int
    amount_cents: int
    projected_units: Decimal
    projected_amount_cents: int
    total_aggregated_units: Decimal = ZERO

    @classmethod
    def total(cls, parts: list[Priced]) -> Priced:
        with pricing_context():
            return cls(sum((p.units for p in parts), ZERO), sum(p.events_count for p in parts),
                       capped(sum(p.amount_cents for p in parts)), sum((p.projected_units for p in parts), ZERO),
                       capped(sum(p.projected_amount_cents for p in parts)),
                       sum((p.total_aggregated_units for p in parts), ZERO))


@dataclass(frozen=True, slots=True)
class Projection:
    """Lago's `period_ratio` (`Fees::ProjectionService`): whole days elapsed ÷ days in the period, both
    counted in the customer's timezone and rounded up (`Utils::Datetime.date_diff_with_timezone`)."""

    days_passed: int
    total_days: int

    @property
    def usable(self) -> bool:
        return 0 < self.days_passed <= self.total_days

    def extrapolate(self, value: Decimal) -> Decimal:
        """value ÷ ratio, exactly (Lago divides by the ratio as a float; the difference is below 1e-15)."""
        with localcontext() as ctx:
            ctx.prec = 60
            return value * self.total_days / self.days_passed


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Lago's `current_usage` query filters: one charge (by id or code), one metric, one pricing group."""

    charge_id: str | None = None
    charge_code: str | None = None
    billable_metric_code: str | None = None
    group: tuple[tuple[str, str], ...] = ()

    def keeps_charge(self, charge: dict[str, Any]) -> bool:
        return ((self.charge_id is None or str(charge.get("lago_id")) == self.charge_id)
                and (self.charge_code is None or charge.get("code") == self.charge_code)
                and (self.billable_metric_code is None or charge.get("billable_metric_code")
                     == self.billable_metric_code))

    def keeps_group(self, grouped_by: dict[str, str | None]) -> bool:
        return all(grouped_by.get(key, _ABSENT) == value for key, value in self.group)


_ABSENT = object()
NO_FILTER = UsageFilter()


@dataclass(slots=True)
class Group:
    """One pricing group of one charge slot (a filter, or the default): its rollups, priced."""

    grouped_by: dict[str, str | None]  # {} when the slot is not grouped
    buckets: list[Bucket] = field(default_factory=list)
    carried: Decimal = ZERO
    event_values: list[Any] | None = None
    priced: Priced | None = None


async def find_subscription(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                            external_subscription_id: str) -> Subscription:
    """The customer's active subscription, by the customer's internal id (a deleted customer's external id may
    belong to a new customer, never its subscriptions)."""
    subscription = await repository.active_subscription_of_customer(session, organization_id, customer_id,
                                                                    external_subscription_id)
    if subscription is None:
        raise SubscriptionNotFound()
    return subscription


def _charge_terms(charge: dict[str, Any], overrides: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    for override in overrides.get("charges") or []:
        if override.get("id") == str(charge["lago_id"]) or override.get("code") == charge.get("code"):
            return override.get("properties") or charge["properties"], override.get("filters") or charge["filters"]
    return charge["properties"], charge.get("filters") or []


async def _events_by_slot(conn: Any, subscription_id: uuid.UUID, metric: Metric, period: Period,
                          filters: list[dict[str, Any]], slot_keys: list[Keys],
                          charge_model: str) -> list[dict[Projected, list[Any]]]:
    """The per-event values of the period by charge filter (the last: the default) and pricing group, in
    event order: the transactions a `percentage` charge prices one by one, or a `dynamic` charge's amounts."""
    by_slot: list[dict[Projected, list[Any]]] = [{} for _ in range(len(filters) + 1)]
    slots: dict[str, int] = {}
    for row in await repository.period_events(conn, subscription_id, metric.code, period.start, period.end):
        properties = json.loads(row["properties"])
        key = group_key(metric, properties)
        if key not in slots:
            slot = slot_of(filters, json.loads(key) if key else {})
            slots[key] = len(filters) if slot is None else slot
        slot = slots[key]
        values = by_slot[slot].setdefault(tuple(text_value(properties.get(k)) for k in slot_keys[slot]), [])
        if charge_model == "dynamic":
            values.append(row["precise_total_amount_cents"] or Decimal(0))
        elif metric.aggregation_type == "count_agg":  # each event is a transaction of one unit
            values.append(Decimal(1))
        elif (value := number(properties.get(metric.field_name or ""))) is not None:
            values.append(value)
    return by_slot


# aggregations whose units split exactly by event: Σ of the groups' units is the charge's (before rounding)
PRESENTED_AGGREGATIONS = ("count_agg", "sum_agg")


def presentation_keys(properties: dict[str, Any]) -> list[str]:
    return [str(item["value"]) for item in properties.get("presentation_group_keys") or []
            if isinstance(item, dict) and item.get("value")]


async def presentation_breakdowns(conn: Any, subscription_id: uuid.UUID, metric: Metric, period: Period,
                                  keys: list[str]) -> list[dict[str, Any]]:
    """Lago's `presentation_breakdowns`: the period's units per distinct value of the charge's presentation keys
    (display only: pricing is untouched), read from the period's stored events, O(events). Counted for count and
    sum metrics that are not recurring (their units are a sum over events); other aggregations get `[]`."""
    if metric.aggregation_type not in PRESENTED_AGGREGATIONS or metric.recurring:
        return []
    units: dict[tuple[str | None, ...], Decimal] = {}
    for row in await repository.period_events(conn, subscription_id, metric.code, period.start, period.end):
        properties = json.loads(row["properties"])
        if metric.aggregation_type == "count_agg":
            value: Decimal | None = Decimal(1)
        else:
            value = number(properties.get(metric.field_name or ""))
        if value is None:
            continue
        values = tuple(text_value(properties.get(key)) for key in keys)
        units[values] = units.get(values, ZERO) + value
    return [{"presentation_by": dict(zip(keys, values, strict=True)), "units": text_units(total)}
            for values, total in sorted(units.items(), key=lambda item: [(v is not None, v or "") for v in item[0]])]


# percentage properties that price each transaction apart (the others apply to the total units)
_PER_TRANSACTION = ("fixed_amount", "free_units_per_events", "per_transaction_min_amount",
                    "per_transaction_max_amount")


def _prices_transactions(metric: Metric, slot_properties: list[dict[str, Any]]) -> bool:
    """Whether a `percentage` charge needs its events: a fee, an allowance or a bound per transaction,
    on a metric whose events are transactions (sum, count). Otherwise the rate, and a free amount, apply
    to the aggregated units as one transaction, and the rollups suffice."""
    if metric.aggregation_type not in ("sum_agg", "count_agg"):
        return False
    return any(number(props.get(key)) not in (None, ZERO) for props in slot_properties for key in _PER_TRANSACTION)


# Amounts are stored and published as 64-bit integers of minor units. The event bounds keep real usage
# far below this; an amount above it (a price × volume no plan has) is capped and logged, so reading and
# closing a period never fail on stored data (docs/operations.md, "Limits").
MAX_AMOUNT_CENTS = 2**63 - 1


def capped(amount: int | Decimal, what: str = "amount") -> int:
    value = int(amount)
    if abs(value) > MAX_AMOUNT_CENTS:
        log.warning("usage_amount_capped", what=what, amount=str(value)[:60])
        return MAX_AMOUNT_CENTS if value > 0 else -MAX_AMOUNT_CENTS
    return value


def _price(charge_model: str, properties: dict[str, Any], currency: str, found: Aggregate,
           event_values: list[Any] | None, metric: Metric, projection: Projection | None,
           floor_units: bool = True) -> Priced:
    result = price_charge(charge_model, properties, currency, units=found.units, event_values=event_values)
    amount = capped(result.amount_cents)
    # 0 when the engine floored a negative charge (Lago bills no negative fee). The snapshot keeps the
    # aggregated units (`floor_units=False`): pricing them again floors the same way, where a floored 0
    # would bill a first tier's flat fee
    units = result.units if floor_units else found.units
    total = units if found.total_aggregated_units is None else found.total_aggregated_units
    projected_units, projected_cents = _projected_values(charge_model, properties, currency, result, metric,
                                                         projection)
    return Priced(units, found.events_count, amount, projected_units, projected_cents, total)


def _projected_values(charge_model: str, properties: dict[str, Any], currency: str, current: Any,
                      metric: Metric, projection: Projection | None) -> tuple[Decimal, int]:
    """Lago's `Fees::ProjectionService`: a recurring metric projects its current value; otherwise, with
    a ratio in (0, 1], units ÷ ratio rounded to 2 decimals, priced again (or, for percentage, graduated
    percentage and dynamic charges, the current amount ÷ ratio); nothing negative."""
    if projection is None or metric.recurring:
        return current.units, capped(current.amount_cents)
    if not projection.usable:
        return ZERO, 0
    units = ZERO
    if current.units:
        with pricing_context():  # wide enough for any sum of bounded events (the default 28 digits is not)
            units = max(projection.extrapolate(current.units).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
                        ZERO)
    if charge_model in PROJECTED_BY_AMOUNT:
        amount = projection.extrapolate(current.precise_amount) if current.precise_amount else ZERO
    elif not units:
        amount = ZERO
    else:
        amount = price_charge(charge_model, properties, currency, units=units).precise_amount
    return units, capped(max(finalize(amount, currency), 0))


def _groups(keys: Keys, buckets: list[Bucket], carried: list[tuple[Bucket, Decimal]],
            event_values: dict[Projected, list[Any]] | None) -> dict[Projected, Group]:
    """A slot's buckets, carried totals and event values by pricing group (one group when not grouped,
    and one with every key null when grouped but empty)."""
    groups: dict[Projected, Group] = {}

    def group(values: Projected) -> Group:
        if values not in groups:
            groups[values] = Group(grouped_by(keys, values))
        return groups[values]

    for bucket in buckets:
        group(project(keys, bucket.pricing)).buckets.append(bucket)
    for bucket, total in carried:
        group(project(keys, bucket.pricing)).carried += total
    for values in event_values or {}:
        group(values)
    if not groups:
        group(project(keys, {}))
    for values, found in groups.items():
        if event_values is not None:
            found.event_values = event_values.get(values, [])
    return dict(sorted(groups.items(), key=lambda item: [(v is not None, v or "") for v in item[0]]))


async def current_usage(session: AsyncSession, catalog: CatalogClient, cache: MetricCache,
                        subscription: Subscription, now: datetime, *, apply_taxes: bool = True,
                        only: UsageFilter = NO_FILTER, full_usage: bool = False) -> dict[str, Any]:
    """The open period's usage; with `full_usage` (Lago), the usage since the subscription started (every
    period's rollups folded, priced once), for the charges `only` keeps."""
    organization_id = subscription.organization_id
    version = await catalog.plan_version(session, organization_id, subscription.plan_version_id)
    metrics = await plan_metrics(session, catalog, cache, organization_id, subscription.plan_version_id)
    period = Period(subscription.current_period_start, subscription.current_period_end)
    charges = version.get("charges") or []
    if (only.charge_id or only.charge_code) and not any(only.keeps_charge({**c, "billable_metric_code": None})
                                                        for c in charges):
        raise ChargeNotFound()
    if only.billable_metric_code and not any(c["billable_metric_code"] == only.billable_metric_code for c in charges):
        raise BillableMetricNotFound()
    if full_usage:
        for charge in charges:
            metric = metrics.get(charge["billable_metric_code"])
            if _may_keep(only, charge, subscription.plan_overrides or {}) and metric is not None and (
                    metric.recurring or metric.aggregation_type not in FULL_USAGE_AGGREGATIONS):
                raise FullUsageNotBuilt()
        period = Period(subscription.started_at or period.start, period.end)
    return await usage_of(session, subscription, version, metrics, period, apply_taxes=apply_taxes, only=only,
                          full_usage=full_usage)


def _usage_entry(priced: Priced, projection: Projection | None) -> dict[str, Any]:
    return {"units": text_units(priced.units), "total_aggregated_units": text_units(priced.total_aggregated_units),
            "amount_cents": priced.amount_cents, "events_count": priced.events_count,
            **_projected(priced, projection)}


def _filter_entry(priced: Priced, charge_filter: dict[str, Any] | None, projection: Projection | None,
                  event_values: list[Any] | None = None, with_event_values: bool = False) -> dict[str, Any]:
    entry = {**_usage_entry(priced, projection),
             "invoice_display_name": None if charge_filter is None else charge_filter.get("invoice_display_name"),
             "values": None if charge_filter is None else charge_filter.get("values") or {}}
    if with_event_values:  # the snapshot: enough for invoicing to price each filter again
        entry["lago_charge_filter_id"] = None if charge_filter is None else charge_filter.get("lago_id")
        entry["event_values"] = None if event_values is None else [str(v) for v in event_values]
    return entry


def _slot_event_values(groups: dict[Projected, Group]) -> list[Any] | None:
    if all(g.event_values is None for g in groups.values()):
        return None
    return [v for g in groups.values() for v in g.event_values or ()]


def _grouped_usage(filters: list[dict[str, Any]], slot_groups: list[dict[Projected, Group]],
                   projection: Projection | None, with_event_values: bool,
                   snapshot: bool = False) -> list[dict[str, Any]]:
    """Lago's `grouped_usage`: per distinct `grouped_by` across the charge's slots, the totals and the
    per-filter usage of that group (a slot that is not grouped counts under `grouped_by: {}`)."""
    by_group: dict[str, list[tuple[int, Group]]] = {}
    for slot, groups in enumerate(slot_groups):
        for found in groups.values():
            by_group.setdefault(json.dumps(found.grouped_by, sort_keys=True), []).append((slot, found))
    entries = []
    for members in by_group.values():
        entry = {**_usage_entry(Priced.total([g.priced for _, g in members if g.priced]), projection),
                 "grouped_by": members[0][1].grouped_by,
                 "filters": [_filter_entry(g.priced, filters[slot] if slot < len(filters) else None, projection,
                                           g.event_values if with_event_values else None, snapshot)
                             for slot, g in members if g.priced] if filters else []}
        if with_event_values:
            entry["event_values"] = None if all(g.event_values is None for _, g in members) else [
                str(v) for _, g in members for v in g.event_values or ()]
        entries.append(entry)
    return entries


def _may_keep(only: UsageFilter, charge: dict[str, Any], overrides: dict[str, Any]) -> bool:
    """Whether `only` can keep some of the charge: a group filter keeps only charges grouped by its keys."""
    if not only.keeps_charge(charge):
        return False
    if not only.group:
        return True
    properties, filters = _charge_terms(charge, overrides)
    grouped = set(keys_of(properties)).union(*(keys_of(f.get("properties") or properties) for f in filters))
    return {key for key, _value in only.group} <= grouped


async def usage_of(session: AsyncSession, subscription: Subscription, version: dict[str, Any],
                   metrics: dict[str, Metric], period: Period, *, apply_taxes: bool = True,
                   with_event_values: bool = False, projection: Projection | None = None,
                   only: UsageFilter = NO_FILTER, full_usage: bool = False) -> dict[str, Any]:
    """Usage of `period` of the subscription, for the charges of `version` (metrics by code); `only` keeps
    one charge, metric or pricing group (Lago's `current_usage` filters; the totals are those of what is kept).
    `full_usage`: `period` starts when the subscription started and every period's rollups up to the one
    holding `period.end` count (the caller keeps to metrics whose rollups fold: `FULL_USAGE_AGGREGATIONS`)."""
    full_period = schedule_for(subscription).period_at(period.end - timedelta(microseconds=1) if full_usage
                                                       else period.start)
    bucket_start = full_period.start
    # the events the rollups read hold: their buckets are whole schedule periods (an event stamped before
    # `started_at` in the first one counts, docs/metering.md), so the charges that read events (percentage per
    # transaction, dynamic, presentation breakdowns) read the same window, not `period`
    events_window = Period(EARLIEST if full_usage else bucket_start, full_period.end)
    # Lago's charges_duration: the whole period's days (a weighted sum is divided by it)
    full_seconds = 86_400 * (local_date(full_period.end, subscription.timezone)
                             - local_date(full_period.start, subscription.timezone)).days
    conn = await driver(session)
    by_code: dict[str, list[Bucket]] = {}
    for row in await repository.rollups(conn, subscription.id, bucket_start, since_start=full_usage):
        by_code.setdefault(row["code"], []).append(Bucket.of(row))
    recurring = [m.code for m in metrics.values() if m.recurring and m.aggregation_type in CARRIED_TOTALS
                 and not full_usage]
    recurring_unique = [m.code for m in metrics.values() if m.recurring and m.aggregation_type == "unique_count_agg"
                        and not full_usage]
    carried: dict[str, list[tuple[Bucket, Decimal]]] = {}
    rows = [*(await repository.carried_totals(conn, subscription.id, bucket_start, recurring) if recurring else ()),
            *(await repository.carried_unique_counts(conn, subscription.id, bucket_start, recurring_unique)
              if recurring_unique else ())]
    if rows:
        for row in rows:
            # a bucket of its filter and pricing group only (its totals are not used)
            key = Bucket.of({**dict(row), "events_count": 0, "value_sum": ZERO, "value_max": None,
                             "latest_value": None, "latest_at": None, "weighted_moment": ZERO, "unique_count": 0,
                             "precise_sum": ZERO})
            carried.setdefault(row["code"], []).append((key, row["total"]))
    unique_states: dict[str, dict[tuple[str, str], list[UniqueState]]] = {}

    async def states_of(code: str) -> dict[tuple[str, str], list[UniqueState]]:
        if code not in unique_states:
            found: dict[tuple[str, str], list[UniqueState]] = {}
            for row in await repository.unique_states(conn, subscription.id, bucket_start, code):
                found.setdefault((row["group_key"], row["pricing_group"]), []).append(
                    UniqueState(row["value"], row["present"], row["last_at"], row["last_event_id"]))
            unique_states[code] = found
        return unique_states[code]

    currency = subscription.plan_amount_currency
    charges_usage = []
    total_cents = taxes_cents = projected_total = 0
    for charge in version.get("charges") or []:
        if not only.keeps_charge(charge):
            continue
        metric = metrics.get(charge["billable_metric_code"])
        if metric is None:  # never cached: no event was ever accepted for it
            metric = Metric(id=uuid.UUID(str(charge["lago_billable_metric_id"])), code=charge["billable_metric_code"],
                            aggregation_type="count_agg", field_name=None, recurring=False, rounding_function=None,
                            rounding_precision=None, name=charge["billable_metric_code"])
        properties, filters = _charge_terms(charge, subscription.plan_overrides or {})
        model = charge["charge_model"]
        slot_properties = [f.get("properties") or properties for f in filters] + [properties]
        slot_keys = [keys_of(p) for p in slot_properties]
        matched, rest_buckets = split_by_filters(filters, by_code.get(metric.code, []))
        slot_carried: list[list[tuple[Bucket, Decimal]]] = [[] for _ in slot_properties]
        for key, total in carried.get(metric.code, []):
            slot = slot_of(filters, key.group)
            slot_carried[len(filters) if slot is None else slot].append((key, total))
        slot_values: list[dict[Projected, list[Any]] | None] = [None] * len(slot_properties)
        if (model == "percentage" and (with_event_values or _prices_transactions(metric, slot_properties))) or (
                model == "dynamic" and with_event_values):
            slot_values = list(await _events_by_slot(conn, subscription.id, metric, events_window, filters,
                                                     slot_keys, model))
        slot_groups = [_groups(keys, buckets, carry, values) for keys, buckets, carry, values
                       in zip(slot_keys, [*matched, rest_buckets], slot_carried, slot_values, strict=True)]
        if only.group:  # one pricing group: a charge not grouped by those keys has none of it, and is left out
            slot_groups = [{values: g for values, g in groups.items() if only.keeps_group(g.grouped_by)}
                           for groups in slot_groups]
            if not any(slot_groups):
                continue
        slot_priced = []
        for props, groups in zip(slot_properties, slot_groups, strict=True):
            for found in groups.values():
                states = None
                if metric.aggregation_type == "unique_count_agg" and needs_merge(found.buckets):
                    states = await states_of(metric.code)
                if model == "dynamic" and found.event_values is None:  # Σ amounts is all a dynamic charge needs
                    found.event_values = [sum((b.precise_sum for b in found.buckets), ZERO)]
                units = aggregate(metric, merged(found.buckets, states), period.start, period.end,
                                  carried=found.carried, full_period_seconds=full_seconds)
                found.priced = _price(model, props, currency, units, found.event_values, metric, projection,
                                      floor_units=not with_event_values)
            slot_priced.append(Priced.total([g.priced for g in groups.values() if g.priced]))
        per_event = with_event_values and model in ("percentage", "dynamic")
        filter_usage = [_filter_entry(priced, charge_filter, projection, _slot_event_values(groups) if per_event
                                      else None, with_event_values)
                        for charge_filter, priced, groups in zip(filters, slot_priced, slot_groups, strict=False)]
        if filters:
            filter_usage.append(_filter_entry(slot_priced[-1], None, projection, _slot_event_values(slot_groups[-1])
                                              if per_event else None, with_event_values))
        charge_total = Priced.total(slot_priced)
        total_cents = capped(total_cents + charge_total.amount_cents, "total")
        projected_total = capped(projected_total + charge_total.projected_amount_cents, "projected_total")
        extra: dict[str, Any] = {}
        if projection is not None:
            extra = {"projected_units": text_units(charge_total.projected_units),
                     "projected_amount_cents": charge_total.projected_amount_cents}
        if apply_taxes:
            rates = [Decimal(str(t["rate"])) for t in (charge.get("taxes") or version.get("taxes") or [])]
            with pricing_context():
                taxes_cents = capped(taxes_cents + int((Decimal(charge_total.amount_cents) * sum(rates, ZERO) / 100)
                                                       .quantize(Decimal(1), rounding=ROUND_HALF_UP)), "taxes")
        if with_event_values:
            extra["event_values"] = None if model not in ("percentage", "dynamic") else [
                str(v) for groups in slot_groups for g in groups.values() for v in g.event_values or ()]
        grouped = (_grouped_usage(filters, slot_groups, projection, with_event_values and model in (
            "percentage", "dynamic"), with_event_values) if any(slot_keys) else [])
        if shown_by := presentation_keys(properties):
            extra["presentation_breakdowns"] = await presentation_breakdowns(conn, subscription.id, metric,
                                                                             events_window, shown_by)
        charges_usage.append({
            "units": text_units(charge_total.units),
            "total_aggregated_units": text_units(charge_total.total_aggregated_units),
            "events_count": charge_total.events_count, "amount_cents": charge_total.amount_cents,
            "amount_currency": currency,
            "charge": {"lago_id": charge["lago_id"], "charge_model": model,
                       "invoice_display_name": charge.get("invoice_display_name")},
            "billable_metric": {"lago_id": str(metric.id), "name": metric.name, "code": metric.code,
                                "aggregation_type": metric.aggregation_type},
            "filters": filter_usage, "grouped_usage": grouped, **extra,
        })
    totals = {"projected_amount_cents": projected_total} if projection is not None else {}
    shown_end = presented_end(period.end)  # Lago shows the local end of day (…T07:59:59Z in Los Angeles)
    return {
        **totals, "from_datetime": period.start, "to_datetime": shown_end,
        "issuing_date": local_date(shown_end, subscription.timezone).isoformat(), "lago_invoice_id": None,
        "currency": currency,
        "amount_cents": total_cents, "taxes_amount_cents": taxes_cents,
        "total_amount_cents": capped(total_cents + taxes_cents, "total"), "charges_usage": charges_usage,
    }


def _projected(priced: Priced, projection: Projection | None) -> dict[str, Any]:
    if projection is None:
        return {}
    return {"projected_units": text_units(priced.projected_units),
            "projected_amount_cents": priced.projected_amount_cents}


def projection_of(period: Period, now: datetime, timezone: str) -> Projection:
    """Lago's period ratio at `now`: 1 once the period is over, 0 before it starts."""
    total = lago_days_between(period.start, period.end - timedelta(microseconds=1), timezone)
    if now >= period.end:
        return Projection(total, total)
    if now < period.start:
        return Projection(0, total)
    return Projection(min(lago_days_between(period.start, now, timezone), total), total)


async def projected_usage(session: AsyncSession, catalog: CatalogClient, cache: MetricCache,
                          subscription: Subscription, now: datetime, *, apply_taxes: bool = True) -> dict[str, Any]:
    organization_id = subscription.organization_id
    version = await catalog.plan_version(session, organization_id, subscription.plan_version_id)
    metrics = await plan_metrics(session, catalog, cache, organization_id, subscription.plan_version_id)
    period = Period(subscription.current_period_start, subscription.current_period_end)
    return await usage_of(session, subscription, version, metrics, period, apply_taxes=apply_taxes,
                          projection=projection_of(period, now, subscription.timezone))
