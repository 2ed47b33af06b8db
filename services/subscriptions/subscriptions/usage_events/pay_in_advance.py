"""Charges paid in advance: each stored event that reaches one is published to invoicing at once.

Lago bills a charge with `pay_in_advance: true` when the event arrives. Here the subscriptions service fixes
the units (it owns aggregation) and the invoicing service prices them (it owns money):
`subscription.pay_in_advance_usage` (`PayInAdvanceUsage`) carries, per (event, charge), the units of the
charge's slot — its charge filter or the default, and its pricing group — in the open period before and after
the event; invoicing bills price(after) − price(before).

How the units stay exact under concurrency: a batch with such events takes a per-subscription advisory lock
(`repository.lock_for_pay_in_advance`, to commit, in one order), reads the units before (count and sum metrics:
the touched rollup rows, one statement; others: the open period's usage), writes the events (the usual single
statement, now inside that transaction), and writes one outbox row per (inserted event, charge) — all in one
commit with the events. Within a batch, the events of one slot
chain in the order sent: each adds its own units (count: 1; sum: its value; unique count: 1 for a value first
added in the batch), and the last one ends exactly at the units read after the write, so the fees add up to the
price of the period's units whatever the batch held. A duplicate transaction id (not inserted) publishes
nothing; invoicing's unique key (subscription, charge, transaction id) covers a redelivered event.

Not published: late events (their closed period is revised instead; the period's invoice never bills a charge
paid in advance, so such usage is not billed) and events stamped in a future period.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.subscriptions import PayInAdvanceUsage
from invora.outbox import PendingEvent, add_events
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions.lifecycle import render
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage.aggregate import rounded, slot_of
from subscriptions.usage.snapshot import usage_snapshot
from subscriptions.usage_events import repository
from subscriptions.usage_events.buckets import schedule_for
from subscriptions.usage_events.ingest import Prepared
from subscriptions.usage_events.pricing_groups import keys_of, text_value

EVENT_TYPE = "subscription.pay_in_advance_usage"


def charge_terms(charge: dict[str, Any], overrides: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A charge's properties and filters, the subscription's override of it first (matched by id or code)."""
    for override in overrides.get("charges") or []:
        if override.get("id") == str(charge["lago_id"]) or override.get("code") == charge.get("code"):
            return (override.get("properties") or charge.get("properties") or {},
                    override.get("filters") or charge.get("filters") or [])
    return charge.get("properties") or {}, charge.get("filters") or []


def advance_charges(version: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [c for c in version.get("charges") or []
            if c.get("pay_in_advance") and c.get("billable_metric_code") == code]


async def candidates(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID,
                     events: Sequence[Prepared]) -> list[Prepared]:
    """The events that reach a charge paid in advance (by code; the plan versions are cached in memory)."""
    found = []
    plans: dict[uuid.UUID, dict[str, Any]] = {}
    for event in events:
        if event.late:
            continue
        version_id = event.subscription.plan_version_id
        if version_id not in plans:
            plans[version_id] = await catalog.plan_version(session, organization_id, version_id)
        if advance_charges(plans[version_id], event.event.code):
            found.append(event)
    return found


@dataclass(slots=True)
class Hit:
    event: Prepared
    charge: dict[str, Any]
    filter_id: str | None
    grouped_by: dict[str, str | None]
    increment: Decimal

    @property
    def slot(self) -> tuple[str, str, str, str]:
        return (str(self.event.subscription.id), str(self.charge["lago_id"]), self.filter_id or "",
                json.dumps(self.grouped_by, sort_keys=True))


def _increment(event: Prepared, seen: set[tuple[Any, ...]], slot: tuple[Any, ...]) -> Decimal:
    kind = event.metric.aggregation_type
    if kind == "count_agg":
        return Decimal(1)
    if kind == "sum_agg":
        return event.value or Decimal(0)
    if kind == "unique_count_agg":
        key = (*slot, event.unique_value)
        if event.present and key not in seen:
            seen.add(key)
            return Decimal(1)
    return Decimal(0)


def hits_of(events: Sequence[Prepared], version: dict[str, Any], subscription: Subscription) -> list[Hit]:
    hits: list[Hit] = []
    seen: set[tuple[Any, ...]] = set()
    for event in events:
        for charge in advance_charges(version, event.event.code):
            properties, filters = charge_terms(charge, subscription.plan_overrides or {})
            group = json.loads(event.group_key) if event.group_key else {}
            slot = slot_of(filters, group)
            slot_properties = (filters[slot].get("properties") or properties) if slot is not None else properties
            keys = keys_of(slot_properties)
            grouped = {key: text_value(event.properties.get(key)) for key in keys}
            filter_id = None if slot is None else str(filters[slot].get("lago_id") or "") or None
            hit = Hit(event, charge, filter_id, grouped, Decimal(0))
            hit.increment = _increment(event, seen, hit.slot)
            hits.append(hit)
    return hits


def slot_units(usage: dict[str, Any] | None, charge_id: str, filter_id: str | None,
               grouped_by: dict[str, str | None]) -> Decimal:
    """The units of one charge slot (filter or default, pricing group) in a usage read (0 without usage yet)."""
    if usage is None:
        return Decimal(0)
    entry = next((c for c in usage["charges_usage"] if str(c["charge"]["lago_id"]) == charge_id), None)
    if entry is None:
        return Decimal(0)
    scope: dict[str, Any] | None = entry
    if entry.get("grouped_usage"):
        scope = next((g for g in entry["grouped_usage"] if (g.get("grouped_by") or {}) == grouped_by), None)
        if scope is None:
            return Decimal(0)
    filters = scope.get("filters") or []
    if filters:
        match = next((f for f in filters if (str(f.get("lago_charge_filter_id")) if f.get("lago_charge_filter_id")
                                             else None) == filter_id), None)
        return Decimal(0) if match is None else Decimal(match["units"])
    if entry.get("filters") and not entry.get("grouped_usage"):
        return Decimal(0)
    return Decimal(scope["units"])


FAST = ("count_agg", "sum_agg")  # units = Σ of the slot's rollups: no full usage read needed


class PayInAdvance:
    """One ingestion's work for charges paid in advance: `before(…)`, then the write, then `publish(…)`.

    Fast path (count and sum metrics that do not recur): one read of the touched metrics' rollup rows
    before the write; the units after each event are the units before plus what the inserted events added
    (exact: the lock keeps every other batch of these subscriptions out, and the rollups are exact sums).
    Other metrics (unique count, recurring totals carried from earlier periods) read the open period's usage
    before and after the write (`usage_snapshot`).
    """

    def __init__(self, session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID,
                 events: list[Prepared]) -> None:
        self.session, self.catalog, self.organization_id, self.events = session, catalog, organization_id, events
        self.subscriptions: dict[uuid.UUID, Subscription] = {}
        self.usage_before: dict[uuid.UUID, dict[str, Any] | None] = {}
        self.rollups_before: dict[uuid.UUID, list[Any]] = {}
        self.fast: set[uuid.UUID] = set()

    def _bucket(self, subscription: Subscription) -> Any:
        return schedule_for(subscription).period_at(subscription.current_period_start).start

    async def before(self) -> None:
        ids = sorted({e.subscription.id for e in self.events})
        await repository.lock_for_pay_in_advance(self.session, ids)
        self.subscriptions = await repository.subscription_rows(self.session, self.organization_id, ids)
        keys = []
        for subscription_id, subscription in self.subscriptions.items():
            if subscription.current_period_start is None or subscription.current_period_end is None:
                continue
            mine = [e for e in self.events if e.subscription.id == subscription_id]
            if all(e.metric.aggregation_type in FAST and not e.metric.recurring for e in mine):
                self.fast.add(subscription_id)
                bucket = self._bucket(subscription)
                keys += [(subscription_id, bucket, code) for code in sorted({e.event.code for e in mine})]
            else:
                self.usage_before[subscription_id] = await self._usage(subscription)
        for row in await repository.slot_rollups(self.session, keys):
            self.rollups_before.setdefault(row["subscription_id"], []).append(row)

    async def _usage(self, subscription: Subscription) -> dict[str, Any] | None:
        if subscription.current_period_start is None or subscription.current_period_end is None:
            return None
        return await usage_snapshot(self.session, subscription, subscription.current_period_start,
                                    subscription.current_period_end)

    def _rollup_units(self, subscription: Subscription, hit: Hit) -> Decimal:
        """The slot's units before the batch, from the rollup rows read under the lock."""
        _properties, filters = charge_terms(hit.charge, subscription.plan_overrides or {})
        total = Decimal(0)
        for row in self.rollups_before.get(subscription.id, ()):
            if row["code"] != hit.event.event.code:
                continue
            group = json.loads(row["group_key"]) if row["group_key"] else {}
            slot = slot_of(filters, group)
            filter_id = None if slot is None else str(filters[slot].get("lago_id") or "") or None
            if filter_id != hit.filter_id:
                continue
            values = json.loads(row["pricing_group"]) if row["pricing_group"] else {}
            if {key: values.get(key) for key in hit.grouped_by} != hit.grouped_by:
                continue
            total += Decimal(row["events_count"]) if hit.event.metric.aggregation_type == "count_agg" \
                else Decimal(row["value_sum"] or 0)
        return total

    async def publish(self, inserted: set[uuid.UUID]) -> int:
        pending: list[PendingEvent] = []
        for subscription_id, subscription in self.subscriptions.items():
            if subscription.current_period_start is None or subscription.current_period_end is None:
                continue
            mine = [e for e in self.events if e.subscription.id == subscription_id and e.id in inserted
                    and e.period_start <= subscription.current_period_start]
            if not mine:
                continue
            version = await self.catalog.plan_version(self.session, self.organization_id, subscription.plan_version_id)
            fast = subscription_id in self.fast
            after_usage = None if fast else await self._usage(subscription)
            before_usage = self.usage_before.get(subscription_id)
            by_slot: dict[tuple[str, str, str, str], list[Hit]] = {}
            for hit in hits_of(mine, version, subscription):
                by_slot.setdefault(hit.slot, []).append(hit)
            rendered = render(subscription)
            for hits in by_slot.values():
                first = hits[0]
                metric = first.event.metric
                if fast:
                    running = self._rollup_units(subscription, first)
                    end = running + sum((h.increment for h in hits), Decimal(0))
                else:
                    slot = (str(first.charge["lago_id"]), first.filter_id, first.grouped_by)
                    running, end = slot_units(before_usage, *slot), slot_units(after_usage, *slot)
                for index, hit in enumerate(hits):
                    units_after = end if index == len(hits) - 1 else running + hit.increment
                    shown_before, shown_after = (rounded(metric, running), rounded(metric, units_after)) if fast \
                        else (running, units_after)
                    pending.append(PendingEvent(
                        type=EVENT_TYPE, organization_id=self.organization_id, aggregate_type="subscription",
                        aggregate_id=subscription_id, data=PayInAdvanceUsage(
                            lago_event_id=hit.event.id, transaction_id=hit.event.event.transaction_id,
                            code=hit.event.event.code, timestamp=hit.event.timestamp, subscription=rendered,
                            lago_plan_version_id=subscription.plan_version_id,
                            lago_charge_id=uuid.UUID(str(hit.charge["lago_id"])),
                            lago_charge_filter_id=uuid.UUID(hit.filter_id) if hit.filter_id else None,
                            grouped_by=hit.grouped_by, units_before=_text(shown_before),
                            units_after=_text(shown_after), period_start=subscription.current_period_start,
                            period_end=subscription.current_period_end, properties=hit.event.properties)))
                    running = units_after
        await add_events(self.session, pending)  # two statements, whatever the number of events
        return len(pending)


def _text(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
