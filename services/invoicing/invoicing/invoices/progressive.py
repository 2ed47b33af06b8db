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

Exactly one invoice per (subscription, crossed amount): its `source_key`. Grace period and payment term as
for any subscription invoice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.subscription_fee import local_date
from invoicing.billing.taxes import TaxRate
from invoicing.invoices import generate
from invoicing.invoices.models import Invoice
from invora.events.contracts.subscriptions import UsageThresholdReached


def lines(ctx: generate.Context, data: UsageThresholdReached) -> list[tuple[int, list[TaxRate], dict[str, Any]]]:
    subscription = data.subscription
    return generate.usage_lines(ctx, subscription, subscription.plan_overrides or {}, data.usage, data.period_start,
                                data.period_end)


async def on_threshold_reached(session: AsyncSession, organization_id: uuid.UUID, data: UsageThresholdReached,
                               now: datetime) -> Invoice | None:
    subscription = data.subscription
    ctx = await generate.context_of(session, organization_id, subscription, data.lago_plan_version_id)
    source = {"kind": "progressive", "event": data.model_dump(mode="json")}
    key = f"progressive:{subscription.lago_id}:{data.crossed_amount_cents}"
    return await generate._create(session, organization_id, ctx, subscription, data.period_start, data.period_end,
                                  "progressive_billing", local_date(data.reached_at, subscription.timezone), source,
                                  now, invoice_type="progressive_billing", source_key=key)
