"""Unit credits on period invoices (seed 002): the metric's units offset before pricing.

    projection (wallet.unit_credit_*) says the customer holds a live grant of a metric of the period?
      no  ─► the invoice is computed as before: no round trip
      yes ─► invoice id = uuid5(organization, subscription, period start, reason)  (the same on a redelivery)
             claim the invoice (unique key: a duplicate stops here, nothing asked)
             POST wallets /api/v1/unit_credits/applications per metric, Idempotency-Key
               `unit_credits:<invoice>:<metric>` (wallets consumes once per (invoice, metric))
             credited units recorded in `invoices.source.unit_credits`, then the fees are priced on the rest
    void ─► invoice.prepaid_credits_release_requested ─► wallets gives the units back (with any prepaid credits)

Crash safety: wallets records its answer with the consumption, keyed by (invoice, metric); the invoice id
does not depend on the attempt, so an attempt that dies after wallets answered (before invoicing commits) is
redelivered, claims the same invoice id and gets the same answer: the units are consumed once. Wallets
unreachable: the handler raises and the platform consumer retries, then parks the event with back-off.
Refresh, retry and late usage price again with the recorded credited units (never asked again).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.charges import charge_fees, offsettable, plain
from invoicing.invoices.errors import DependencyUnavailable
from invoicing.unit_credits import repository
from invora.events.contracts.subscriptions import BillingPeriodEnded, UsageSnapshot
from invora.service_client import ServiceClient, ServiceUnavailableError

# the wallets client of the consumer running now (set by `invoices.consumer.with_catalog_fallback`)
WALLETS: ContextVar[ServiceClient | None] = ContextVar("invoicing_unit_credits_wallets", default=None)
APPLICATIONS = "/api/v1/unit_credits/applications"
_NAMESPACE = uuid.UUID("6f1d5a3e-7a52-4c1e-9a43-0e5b1f2c9d71")


def invoice_id(organization_id: uuid.UUID, data: BillingPeriodEnded) -> uuid.UUID:
    """A period invoice's id, the same on every attempt (its unique claim's key)."""
    return uuid.uuid5(_NAMESPACE, f"{organization_id}:{data.subscription.lago_id}:{data.period_start.isoformat()}:"
                                  f"{data.reason}")


def advance_invoice_id(organization_id: uuid.UUID, subscription_id: uuid.UUID, charge_id: uuid.UUID,
                       transaction_id: str) -> uuid.UUID:
    """The id a fee paid in advance is known by to wallets (its invoice's id when it has one): the same on every
    attempt, so a redelivery after a crash gets wallets' first answer."""
    return uuid.uuid5(_NAMESPACE, f"advance:{organization_id}:{subscription_id}:{charge_id}:{transaction_id}")


def requested_units(version: Mapping[str, Any], data: BillingPeriodEnded, metrics: set[str]) -> dict[str, Decimal]:
    """Per metric the customer holds grants of: the period's units its charges would price (offsettable slots)."""
    if data.usage is None:
        return {}
    return usage_units(version, data.plan_overrides, data.usage, data.subscription.plan_amount_currency, metrics)


def usage_units(version: Mapping[str, Any], overrides: Mapping[str, Any] | None, usage: UsageSnapshot,
                currency: str, metrics: set[str]) -> dict[str, Decimal]:
    wanted: dict[str, Decimal] = {}
    for line in charge_fees(version, overrides, usage, currency):
        if line.true_up or line.metric_code not in metrics or not offsettable(line.charge) or line.units <= 0:
            continue
        wanted[line.metric_code] = wanted.get(line.metric_code, Decimal(0)) + line.units
    return wanted


async def live_metrics(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                       at: datetime) -> set[str]:
    return await repository.live_metric_codes(session, organization_id, customer_id, at)


async def consume(organization_id: uuid.UUID, invoice_id: uuid.UUID, external_customer_id: str,
                  wanted: Mapping[str, Decimal]) -> dict[str, str]:
    """Ask wallets for each metric's credited units (once per (invoice, metric) there); the answers by metric."""
    client = WALLETS.get()
    if client is None or not client.configured:
        raise DependencyUnavailable("the wallets service is not configured: unit credits cannot be applied")
    credited: dict[str, str] = {}
    for metric, units in sorted(wanted.items()):
        try:
            answer = await client.post(organization_id, APPLICATIONS, {"unit_credit_application": {
                "lago_invoice_id": str(invoice_id), "external_customer_id": external_customer_id,
                "billable_metric_code": metric, "units": plain(units)}},
                idempotency_key=f"unit_credits:{invoice_id}:{metric}")
        except ServiceUnavailableError as exc:
            raise DependencyUnavailable(f"wallets: {exc}") from exc
        applied = Decimal(answer["unit_credit_application"]["applied_units"])
        if applied > 0:
            credited[metric] = plain(min(applied, units))
    return credited


def credited_of(source: Mapping[str, Any]) -> dict[str, Decimal]:
    """The units this invoice itself took from wallets (what its void gives back)."""
    return {metric: Decimal(units) for metric, units in (source.get("unit_credits") or {}).items()}


def priced_of(source: Mapping[str, Any]) -> dict[str, Decimal]:
    """The units the invoice is priced as credited: its own, plus those of the period's earlier
    progressive-billing invoices (`unit_credits_priced`, recorded when it was made)."""
    if "unit_credits_priced" in source:
        return {metric: Decimal(units) for metric, units in source["unit_credits_priced"].items()}
    return credited_of(source)


def merged(*parts: Mapping[str, Decimal | str]) -> dict[str, str]:
    total: dict[str, Decimal] = {}
    for part in parts:
        for metric, units in part.items():
            total[metric] = total.get(metric, Decimal(0)) + Decimal(units)
    return {metric: plain(units) for metric, units in total.items() if units > 0}


def still_wanted(wanted: Mapping[str, Decimal], prior: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """What is left to ask once the period's earlier invoices' credited units are counted."""
    return {metric: units - prior.get(metric, Decimal(0)) for metric, units in wanted.items()
            if units > prior.get(metric, Decimal(0))}


def holds_units(source: Mapping[str, Any] | None) -> bool:
    """Whether the invoice took unit credits (its void gives them back)."""
    return any(units > 0 for units in credited_of(source or {}).values())
