"""Fee estimates: what an event would cost on the subscription's charges paid in advance. Writes nothing.

- `estimate_fees` (Lago's `Fees::EstimatePayInAdvanceService`): the fee the event would create now, as
  ingestion and invoicing would make it: the charge slot's units in the open period (from the rollups) before
  and after the event, priced with `invora.pricing.price_increment`, every charge model;
- `estimate_instant_fees` (Lago's instant estimate): `standard` and `percentage` charges only, the event alone
  (no read of the period's usage): its units priced from zero.

Taxes: the charge's, else the plan's (the customer's and the organization's taxes live in invoicing; an
estimate does not ask for them). Errors: an unknown subscription (or another organization's) is a 404
`subscription_not_found`, a metric the plan does not charge a 404 `billable_metric_not_found`, a metric with no
charge paid in advance a 422 `code: does_not_match_an_instant_charge`, a missing or non-numeric field a 422.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.deps import ensure_customer_access
from invora.auth.principal import Principal
from invora.errors import NotFound, ValidationFailed
from invora.money import exponent
from invora.pricing import price_increment
from subscriptions.fee_estimates.errors import BillableMetricNotFound, NoChargePaidInAdvance
from subscriptions.fee_estimates.schemas import EstimateEventInput, EstimateItem, FeeEstimate
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions import repository as subscription_repository
from subscriptions.subscriptions.errors import SubscriptionNotFound
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage.aggregate import slot_of
from subscriptions.usage.snapshot import usage_snapshot
from subscriptions.usage_events.ingest import (
    BatchValidationFailed,
    OutOfRange,
    event_number,
    group_key,
    with_expression_value,
)
from subscriptions.usage_events.metrics import Metric, MetricCache, plan_metrics
from subscriptions.usage_events.pay_in_advance import advance_charges, charge_terms, slot_units
from subscriptions.usage_events.pricing_groups import keys_of, text_value

INSTANT_MODELS = ("standard", "percentage")


async def _subscription(session: AsyncSession, principal: Principal, external_id: str) -> Subscription:
    """The subscription the event names, active; access is checked on any of that id's subscriptions first, so a
    tenant key naming another customer's subscription is refused (403) whatever its status, in a batch too."""
    rows = await subscription_repository.all_by_external_id(session, principal.organization_id, external_id)
    for row in rows:
        ensure_customer_access(principal, row.customer_id)
    found = next((row for row in rows if row.status == "active"), None)
    if found is None:
        raise SubscriptionNotFound()
    return found


def _units(metric: Metric, properties: dict[str, Any], code: str, when: Any) -> Decimal:
    """The units the event adds (count: 1; sum: its value; unique count: 1)."""
    problems: dict[str, list[str]] = {}
    if metric.expression:
        properties = with_expression_value(metric, properties, code, when, problems)
        if problems:
            raise ValidationFailed(problems)
    if metric.aggregation_type == "count_agg":
        return Decimal(1)
    field = metric.field_name or ""
    raw = properties.get(field)
    if raw is None:
        raise ValidationFailed({f"properties.{field}": ["value_is_mandatory"]})
    if metric.aggregation_type == "unique_count_agg":
        return Decimal(1)
    try:
        value = event_number(raw)
    except OutOfRange:
        raise ValidationFailed({f"properties.{field}": ["value_is_out_of_range"]}) from None
    if value is None:
        raise ValidationFailed({f"properties.{field}": ["value_is_not_numeric"]})
    return value


def _rates(charge: dict[str, Any], version: dict[str, Any]) -> list[Decimal]:
    return [Decimal(str(t["rate"])) for t in (charge.get("taxes") or version.get("taxes") or [])]


async def estimate(session: AsyncSession, catalog: CatalogClient, cache: MetricCache, principal: Principal,
                   event: EstimateEventInput, when: Any, *, instant: bool) -> list[FeeEstimate]:
    subscription = await _subscription(session, principal, event.external_subscription_id)
    organization_id = principal.organization_id
    version = await catalog.plan_version(session, organization_id, subscription.plan_version_id)
    metrics = await plan_metrics(session, catalog, cache, organization_id, subscription.plan_version_id)
    metric = metrics.get(event.code)
    if metric is None:
        raise BillableMetricNotFound()
    charges = [c for c in advance_charges(version, event.code)
               if not instant or c.get("charge_model") in INSTANT_MODELS]
    if not charges:
        raise NoChargePaidInAdvance()
    properties = dict(event.properties or {})
    added = _units(metric, properties, event.code, when)
    usage = None
    if not instant and subscription.current_period_start is not None and subscription.current_period_end is not None:
        usage = await usage_snapshot(session, subscription, subscription.current_period_start,
                                     subscription.current_period_end)
    currency = subscription.plan_amount_currency
    fees = []
    for charge in charges:
        terms, filters = charge_terms(charge, subscription.plan_overrides or {})
        group = json.loads(group_key(metric, properties) or "{}")
        slot = slot_of(filters, group)
        slot_filter = filters[slot] if slot is not None else None
        slot_properties = (slot_filter.get("properties") or terms) if slot_filter else terms
        grouped = {key: text_value(properties.get(key)) for key in keys_of(slot_properties)}
        filter_id = str(slot_filter.get("lago_id")) if slot_filter and slot_filter.get("lago_id") else None
        before = Decimal(0) if instant else slot_units(usage, str(charge["lago_id"]), filter_id, grouped)
        increment = price_increment(charge["charge_model"], slot_properties, currency, before=before,
                                    after=before + added)
        rate = sum(_rates(charge, version), Decimal(0))
        precise_cents = increment.precise_amount.scaleb(exponent(currency))
        taxes_precise = precise_cents * rate / 100
        taxes_cents = int(taxes_precise.quantize(Decimal(1), ROUND_HALF_UP))
        major = Decimal(1).scaleb(-exponent(currency))
        fees.append(FeeEstimate(
            lago_charge_id=uuid.UUID(str(charge["lago_id"])),
            lago_charge_filter_id=uuid.UUID(filter_id) if filter_id else None,
            lago_subscription_id=subscription.id, lago_customer_id=subscription.customer_id,
            external_customer_id=subscription.external_customer_id, external_subscription_id=subscription.external_id,
            amount_cents=increment.amount_cents, precise_amount=increment.precise_amount,
            precise_total_amount=increment.precise_amount + taxes_precise * major, amount_currency=currency,
            taxes_amount_cents=taxes_cents, taxes_precise_amount=taxes_precise * major, taxes_rate=rate,
            units=increment.units,
            precise_unit_amount=(increment.precise_amount / increment.units) if increment.units else Decimal(0),
            total_amount_cents=increment.amount_cents + taxes_cents, total_amount_currency=currency,
            invoiceable=charge.get("invoiceable") is not False, event_transaction_id=event.transaction_id,
            item=EstimateItem(code=metric.code, name=metric.name or metric.code, description=metric.name,
                              invoice_display_name=charge.get("invoice_display_name"),
                              filter_invoice_display_name=slot_filter.get("invoice_display_name") if slot_filter
                              else None, filters=slot_filter.get("values") if slot_filter else None,
                              lago_item_id=metric.id, grouped_by=grouped)))
    return fees


async def estimate_many(session: AsyncSession, catalog: CatalogClient, cache: MetricCache, principal: Principal,
                        events: Sequence[EstimateEventInput], when: Any) -> list[FeeEstimate]:
    """Every event's instant fees; the first invalid event fails the whole batch, its errors keyed by index."""
    fees: list[FeeEstimate] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, event in enumerate(events):
        try:
            fees.extend(await estimate(session, catalog, cache, principal, event, when, instant=True))
        except ValidationFailed as failure:
            errors[index] = failure.details
        except NotFound as missing:
            errors[index] = {"external_subscription_id" if isinstance(missing, SubscriptionNotFound) else "code":
                             [missing.code]}
    if errors:
        raise BatchValidationFailed(errors)
    return fees
