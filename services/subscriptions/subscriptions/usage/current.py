"""Current usage of one subscription (Lago's `customer_usage`): units per charge and filter from the
rollups of the open period, priced with `invora.pricing`, taxed when asked.

A read touches the period's rollup rows (O(charges × filter groups)), plus, for recurring
weighted-sum metrics, the earlier periods' rollups (the total carried in). Every aggregation comes
from rollups; only a `percentage` charge reads its metric's events, because it prices each
transaction in order (free allowance, fixed fee and minimum / maximum per transaction).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import NotFound
from invora.pricing import price_charge
from subscriptions.periods import Period
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage.aggregate import Aggregate, Bucket, aggregate, rounded, slot_of, split_by_filters
from subscriptions.usage_events.buckets import schedule_for
from subscriptions.usage_events.ingest import group_key, number
from subscriptions.usage_events.metrics import Metric, MetricCache, plan_metrics
from subscriptions.usage_events.store import driver

ROLLUPS = """
SELECT code, group_key, events_count, value_sum, value_max, latest_value, latest_at, weighted_moment,
       unique_count, precise_sum
FROM usage_rollups WHERE subscription_id = $1 AND period_start = $2
"""
CARRIED = """
SELECT code, group_key, sum(value_sum) AS total FROM usage_rollups
WHERE subscription_id = $1 AND period_start < $2 AND code = ANY($3::text[]) GROUP BY code, group_key
"""
EVENTS = """
SELECT properties::text AS properties, precise_total_amount_cents, timestamp, id FROM usage_events
WHERE subscription_id = $1 AND code = $2 AND timestamp >= $3 AND timestamp < $4 ORDER BY timestamp, id
"""


def text_units(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


ADDITIVE = frozenset({"count_agg", "sum_agg"})


@dataclass(slots=True)
class Priced:
    units: Decimal
    events_count: int
    amount_cents: int
    projected_units: Decimal
    projected_amount_cents: int


async def find_subscription(session: AsyncSession, organization_id: uuid.UUID, external_customer_id: str,
                            external_subscription_id: str) -> Subscription:
    subscription = (await session.execute(select(Subscription).where(
        Subscription.organization_id == organization_id, Subscription.external_id == external_subscription_id,
        Subscription.external_customer_id == external_customer_id, Subscription.status == "active",
    ))).scalar_one_or_none()
    if subscription is None:
        raise NotFound("subscription")
    return subscription


def _charge_terms(charge: dict[str, Any], overrides: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    for override in overrides.get("charges") or []:
        if override.get("id") == str(charge["lago_id"]) or override.get("code") == charge.get("code"):
            return override.get("properties") or charge["properties"], override.get("filters") or charge["filters"]
    return charge["properties"], charge.get("filters") or []


async def _events_by_slot(conn: Any, subscription_id: uuid.UUID, metric: Metric, period: Period,
                          filters: list[dict[str, Any]], charge_model: str) -> list[list[Any]]:
    """The per-event values of the period by charge filter (the last list: the default), in event order:
    the transactions a `percentage` charge prices one by one, or a `dynamic` charge's amounts."""
    by_slot: list[list[Any]] = [[] for _ in range(len(filters) + 1)]
    slots: dict[str, int] = {}
    for row in await conn.fetch(EVENTS, subscription_id, metric.code, period.start, period.end):
        properties = json.loads(row["properties"])
        key = group_key(metric, properties)
        if key not in slots:
            slot = slot_of(filters, json.loads(key) if key else {})
            slots[key] = len(filters) if slot is None else slot
        if charge_model == "dynamic":
            by_slot[slots[key]].append(row["precise_total_amount_cents"] or Decimal(0))
        elif (value := number(properties.get(metric.field_name or ""))) is not None:
            by_slot[slots[key]].append(value)
    return by_slot


def _price(charge_model: str, properties: dict[str, Any], currency: str, found: Aggregate,
           event_values: list[Any] | None, metric: Metric, projection: Decimal | None) -> Priced:
    result = price_charge(charge_model, properties, currency, units=found.units, event_values=event_values)
    amount = int(result.amount_cents)
    if projection is None or metric.aggregation_type not in ADDITIVE:
        return Priced(found.units, found.events_count, amount, found.units, amount)
    projected = rounded(metric, found.units * projection)
    scaled_values = None if event_values is None else [Decimal(str(v)) * projection for v in event_values]
    forecast = price_charge(charge_model, properties, currency, units=projected, event_values=scaled_values)
    return Priced(found.units, found.events_count, amount, projected, int(forecast.amount_cents))


async def current_usage(session: AsyncSession, catalog: CatalogClient, cache: MetricCache,
                        subscription: Subscription, now: datetime, *, apply_taxes: bool = True) -> dict[str, Any]:
    organization_id = subscription.organization_id
    version = await catalog.plan_version(session, organization_id, subscription.plan_version_id)
    metrics = await plan_metrics(session, catalog, cache, organization_id, subscription.plan_version_id)
    period = Period(subscription.current_period_start, subscription.current_period_end)
    return await usage_of(session, subscription, version, metrics, period, apply_taxes=apply_taxes)


async def usage_of(session: AsyncSession, subscription: Subscription, version: dict[str, Any],
                   metrics: dict[str, Metric], period: Period, *, apply_taxes: bool = True,
                   with_event_values: bool = False, projection: Decimal | None = None) -> dict[str, Any]:
    """Usage of `period` of the subscription, for the charges of `version` (metrics by code)."""
    bucket_start = schedule_for(subscription).period_at(period.start).start
    conn = await driver(session)
    by_code: dict[str, list[Bucket]] = {}
    for row in await conn.fetch(ROLLUPS, subscription.id, bucket_start):
        by_code.setdefault(row["code"], []).append(Bucket.of(row))
    recurring = [m.code for m in metrics.values() if m.recurring and m.aggregation_type == "weighted_sum_agg"]
    carried: dict[str, dict[str, Decimal]] = {}
    if recurring:
        for row in await conn.fetch(CARRIED, subscription.id, bucket_start, recurring):
            carried.setdefault(row["code"], {})[row["group_key"]] = row["total"]
    currency = subscription.plan_amount_currency
    charges_usage = []
    total_cents = taxes_cents = projected_total = 0
    for charge in version.get("charges") or []:
        metric = metrics.get(charge["billable_metric_code"])
        if metric is None:  # never cached: no event was ever accepted for it
            metric = Metric(id=uuid.UUID(str(charge["lago_billable_metric_id"])), code=charge["billable_metric_code"],
                            aggregation_type="count_agg", field_name=None, recurring=False, rounding_function=None,
                            rounding_precision=None, name=charge["billable_metric_code"])
        properties, filters = _charge_terms(charge, subscription.plan_overrides or {})
        model = charge["charge_model"]
        matched, rest_buckets = split_by_filters(filters, by_code.get(metric.code, []))
        carry = [Decimal(0)] * (len(filters) + 1)  # the last one: the default
        for key, total in carried.get(metric.code, {}).items():
            slot = slot_of(filters, json.loads(key) if key else {})
            carry[len(filters) if slot is None else slot] += total
        per_filter = [aggregate(metric, b, period.start, period.end, carried=c)
                      for b, c in zip(matched, carry, strict=False)]
        rest = aggregate(metric, rest_buckets, period.start, period.end, carried=carry[-1])
        slot_values: list[list[Any] | None] = [None] * (len(filters) + 1)
        if model == "percentage" or (model == "dynamic" and with_event_values):
            slot_values = list(await _events_by_slot(conn, subscription.id, metric, period, filters, model))
        elif model == "dynamic":  # Σ amounts is all a dynamic charge needs
            slot_values = [[sum((b.precise_sum for b in buckets), Decimal(0))] for buckets in (*matched, rest_buckets)]
        filter_usage = []
        priced_filters = [_price(model, f.get("properties") or properties, currency, found, values, metric, projection)
                          for f, found, values in zip(filters, per_filter, slot_values, strict=False)]
        for charge_filter, priced in zip(filters, priced_filters, strict=True):
            filter_usage.append({
                "units": text_units(priced.units), "total_aggregated_units": text_units(priced.units),
                "amount_cents": priced.amount_cents, "events_count": priced.events_count,
                "invoice_display_name": charge_filter.get("invoice_display_name"),
                "values": charge_filter.get("values") or {}, **_projected(priced, projection),
            })
        default = _price(model, properties, currency, rest, slot_values[-1], metric, projection)
        if filters:
            filter_usage.append({"units": text_units(default.units), "total_aggregated_units": text_units(
                default.units), "amount_cents": default.amount_cents, "events_count": default.events_count,
                "invoice_display_name": None, "values": None, **_projected(default, projection)})
        units = default.units + sum((p.units for p in priced_filters), Decimal(0))
        amount = default.amount_cents + sum(p.amount_cents for p in priced_filters)
        events = default.events_count + sum(p.events_count for p in priced_filters)
        total_cents += amount
        projected_total += default.projected_amount_cents + sum(p.projected_amount_cents for p in priced_filters)
        if projection is not None:
            extra_projection = {
                "projected_units": text_units(default.projected_units + sum(
                    (p.projected_units for p in priced_filters), Decimal(0))),
                "projected_amount_cents": default.projected_amount_cents + sum(
                    p.projected_amount_cents for p in priced_filters)}
        else:
            extra_projection = {}
        if apply_taxes:
            rates = [Decimal(str(t["rate"])) for t in (charge.get("taxes") or version.get("taxes") or [])]
            taxes_cents += int((Decimal(amount) * sum(rates, Decimal(0)) / 100).quantize(
                Decimal(1), rounding=ROUND_HALF_UP))
        extra: dict[str, Any] = dict(extra_projection)
        if with_event_values:
            extra["event_values"] = None if model not in ("percentage", "dynamic") else [
                str(v) for values in slot_values for v in values or ()]
        charges_usage.append({
            "units": text_units(units), "total_aggregated_units": text_units(units), "events_count": events,
            "amount_cents": amount, "amount_currency": currency,
            "charge": {"lago_id": charge["lago_id"], "charge_model": model,
                       "invoice_display_name": charge.get("invoice_display_name")},
            "billable_metric": {"lago_id": str(metric.id), "name": metric.name, "code": metric.code,
                                "aggregation_type": metric.aggregation_type},
            "filters": filter_usage, "grouped_usage": [], **extra,
        })
    totals = {"projected_amount_cents": projected_total} if projection is not None else {}
    return {
        **totals, "from_datetime": period.start, "to_datetime": period.end,
        "issuing_date": period.end.date().isoformat(), "lago_invoice_id": None, "currency": currency,
        "amount_cents": total_cents, "taxes_amount_cents": taxes_cents,
        "total_amount_cents": total_cents + taxes_cents, "charges_usage": charges_usage,
    }



def _projected(priced: Priced, projection: Decimal | None) -> dict[str, Any]:
    if projection is None:
        return {}
    return {"projected_units": text_units(priced.projected_units),
            "projected_amount_cents": priced.projected_amount_cents}


def projection_factor(period: Period, now: datetime) -> Decimal:
    """Period length ÷ time elapsed: the straight-line forecast of additive usage (count, sum)."""
    elapsed = (min(max(now, period.start), period.end) - period.start).total_seconds()
    total = (period.end - period.start).total_seconds()
    return Decimal(str(total)) / Decimal(str(max(elapsed, 3600.0)))  # the first hour is too short to extrapolate


async def projected_usage(session: AsyncSession, catalog: CatalogClient, cache: MetricCache,
                          subscription: Subscription, now: datetime, *, apply_taxes: bool = True) -> dict[str, Any]:
    organization_id = subscription.organization_id
    version = await catalog.plan_version(session, organization_id, subscription.plan_version_id)
    metrics = await plan_metrics(session, catalog, cache, organization_id, subscription.plan_version_id)
    period = Period(subscription.current_period_start, subscription.current_period_end)
    return await usage_of(session, subscription, version, metrics, period, apply_taxes=apply_taxes,
                          projection=projection_factor(period, now))
