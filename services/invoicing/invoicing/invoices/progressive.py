"""Progressive billing: an invoice when a subscription's lifetime usage crosses a usage threshold.

The subscriptions service watches lifetime usage (`usage/progressive.py` there) and publishes
`subscription.usage_threshold_reached` with the open period's usage so far. Here, as Lago:

- an invoice of type `progressive_billing` (billing reason `progressive_billing`) whose fees are the
  period's usage so far (charges in arrears, priced as the period's invoice prices them), less what the
  period's earlier finalized progressive invoices billed (`progressive_billing_credit_amount_cents`,
  right after the fees, before coupons);
- the period's own invoice deducts everything the period's finalized progressive invoices billed the same
  way (`generate.deduct_progressive_billing`). Draft progressive invoices are not deducted (Lago counts
  finalized invoices only).

Unit credits (seed 002): each invoice of the period is priced less the units the period's earlier
progressive invoices credited (recorded on them) and asks wallets only for the units since (docs/invoicing.md).

Exactly one invoice per (subscription, crossed amount): its `source_key`. Grace period and payment term as
for any subscription invoice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.subscription_fee import local_date
from invoicing.billing.taxes import TaxRate
from invoicing.invoices import generate, repository
from invoicing.invoices.models import Invoice
from invoicing.unit_credits import service as unit_credits
from invora.events.contracts.subscriptions import UsageThresholdReached

# the id a progressive invoice taking unit credits is claimed with: the same on every attempt (wallets keys its
# answer by it, so a redelivery after a crash gets the first answer)
PROGRESSIVE_IDS = uuid.UUID("2b7c0e7e-4f0c-4d5e-9a1e-6d3b8f1a7c55")


def lines(ctx: generate.Context, data: UsageThresholdReached,
          credited: dict[str, Decimal] | None = None) -> list[tuple[int, list[TaxRate], dict[str, Any]]]:
    subscription = data.subscription
    return generate.usage_lines(ctx, subscription, subscription.plan_overrides or {}, data.usage, data.period_start,
                                data.period_end, credited)


async def on_threshold_reached(session: AsyncSession, organization_id: uuid.UUID, data: UsageThresholdReached,
                               now: datetime) -> Invoice | None:
    subscription = data.subscription
    ctx = await generate.context_of(session, organization_id, subscription, data.lago_plan_version_id)
    source: dict[str, Any] = {"kind": "progressive", "event": data.model_dump(mode="json")}
    key = f"progressive:{subscription.lago_id}:{data.crossed_amount_cents}"
    # unit credits: the usage so far is priced less what the period's earlier progressive invoices credited
    # (recorded, not asked again) and what wallets covers of the units since
    prior = await repository.progressive_unit_credits(session, organization_id, subscription.lago_id,
                                                      data.period_start)
    if prior:
        source["unit_credits_priced"] = unit_credits.merged(prior)
    metrics = await unit_credits.live_metrics(session, organization_id, ctx.customer.id, now)
    wanted = unit_credits.still_wanted(unit_credits.usage_units(
        ctx.version.body, subscription.plan_overrides, data.usage, subscription.plan_amount_currency, metrics),
        prior) if metrics else {}
    extra: dict[str, Any] = {}
    if wanted:
        async def offset_units(invoice: Invoice) -> None:  # after the claim: a duplicate never asks
            credited = await unit_credits.consume(organization_id, invoice.id, ctx.customer.external_id, wanted)
            invoice.source = {**invoice.source, "unit_credits": credited,
                              "unit_credits_priced": unit_credits.merged(prior, credited)}

        extra = dict(invoice_id=uuid.uuid5(PROGRESSIVE_IDS, f"{organization_id}:{key}"), before_pricing=offset_units)
    return await generate._create(session, organization_id, ctx, subscription, data.period_start, data.period_end,
                                  "progressive_billing", local_date(data.reached_at, subscription.timezone), source,
                                  now, invoice_type="progressive_billing", source_key=key, **extra)
