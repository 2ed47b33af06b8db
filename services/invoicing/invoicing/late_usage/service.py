"""Late usage (`subscription.billing_period_usage_revised`): a closed period's usage revised after its close.

- **Order**: revisions apply by the event's `sequence` (the subscription's per-aggregate order), never by
  arrival: `usage_revisions` keeps the latest per period and a revision at or below it changes nothing (a
  parked older revision retried after a newer one, a redelivery). A revision that comes before its period's
  invoice exists is kept, and the invoice is computed with it (`generate.invoice_period`).
- **Draft** invoice of the period: computed again with the revised usage (a failed one keeps it for its retry).
- **Final** invoice (`finalized`, or `pending` its prepaid credits): never reopened (Lago does not reopen
  finalized invoices). The difference is billed on a **follow-up invoice** of the same subscription and
  period (`billing_reason = usage_revision_<n>`): each charge fee slot priced again with the revised usage,
  minus what the period's final invoices (the first and earlier follow-ups) billed for it; the positive
  differences are its fees, with the usual coupons, taxes and prepaid credits, draft for the grace period
  then finalized. A follow-up still in draft takes the next revision instead of a second follow-up. A slot
  whose revised amount is lower is not credited (credit notes' job): logged as `late_usage_not_credited`.
- A voided invoice's period is not billed again.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.late_usage import difference
from invoicing.billing.subscription_fee import local_date
from invoicing.invoices import generate
from invoicing.invoices import repository as invoices
from invoicing.invoices.models import Invoice
from invoicing.late_usage import repository
from invoicing.unit_credits import service as unit_credits
from invora.events.contracts.subscriptions import BillingPeriodEnded, BillingPeriodUsageRevised
from invora.logging import get_logger
from invora.money import exponent

log = get_logger(__name__)

FOLLOW_UP_PREFIX = "usage_revision_"
FINAL = ("finalized", "pending")


def is_follow_up(invoice: Invoice) -> bool:
    return invoice.billing_reason.startswith(FOLLOW_UP_PREFIX)


async def revise(session: AsyncSession, organization_id: uuid.UUID, data: BillingPeriodUsageRevised, sequence: int,
                 now: datetime) -> list[Invoice]:
    """Apply one revision (see the module's rules); the invoices it changed or created."""
    # first, before the revisions row: the period's invoice creation takes it too (`repository.latest`), so a
    # revision either commits before that invoice reads it or waits for the invoice and then finds it
    await repository.lock_period(session, data.lago_billing_period_id)
    if not await repository.keep_if_newer(session, organization_id, data, sequence, now):
        log.info("usage_revision_superseded", billing_period_id=str(data.lago_billing_period_id),
                 revision=data.revision, sequence=sequence)
        return []
    usage = data.usage.model_dump(mode="json")
    period = await invoices.drafts_of_period(session, organization_id, data.lago_billing_period_id)  # locked
    originals = [i for i in period if not is_follow_up(i) and i.source.get("kind") == "period"]
    changed: list[Invoice] = []
    for invoice in originals:
        if invoice.status in ("draft", "failed"):
            invoice.source = _with_usage(invoice.source, usage, data, sequence)
            if invoice.status == "draft":
                await generate.recompute(session, invoice, now)
            changed.append(invoice)
    finals = [i for i in period if i.status in FINAL]
    if not finals or not originals:
        return changed
    billed = await repository.billed_slots(session, [i.id for i in finals])
    template = _with_usage(originals[0].source, usage, data, sequence)
    source = {"kind": "usage_revision", "event": template["event"], "usage_sequence": sequence,
              "usage_revision": data.revision, "billed": {key: value.dump() for key, value in billed.items()}}
    if template.get("unit_credits"):  # the first invoice's credited units offset the revised usage too
        source["unit_credits"] = template["unit_credits"]
    if template.get("unit_credits_priced"):  # and the period's progressive invoices' ones
        source["unit_credits_priced"] = template["unit_credits_priced"]
    event = BillingPeriodEnded.model_validate(template["event"])
    ctx = await generate.context_of(session, organization_id, event.subscription, event.lago_plan_version_id)
    revised = generate.period_lines(ctx, event, unit_credits.priced_of(source))
    outcome = difference(revised, billed, exponent(event.subscription.plan_amount_currency))
    if outcome.uncredited_cents:
        log.warning("late_usage_not_credited", billing_period_id=str(data.lago_billing_period_id),
                    amount_cents=outcome.uncredited_cents, revision=data.revision)
    open_follow_up = next((i for i in period if is_follow_up(i) and i.status in ("draft", "failed")), None)
    if open_follow_up is not None:
        open_follow_up.source = source
        if open_follow_up.status == "draft":
            await generate.recompute(session, open_follow_up, now)
        return [*changed, open_follow_up]
    if not outcome.lines:
        return changed
    created = await generate.create_follow_up(session, organization_id, ctx, event,
                                              f"{FOLLOW_UP_PREFIX}{data.revision}", local_date(now, event.timezone),
                                              source, now)
    return [*changed, *([created] if created else [])]


def _with_usage(source: dict, usage: dict, data: BillingPeriodUsageRevised, sequence: int) -> dict:
    return {**source, "event": {**source["event"], "usage": usage}, "usage_revision": data.revision,
            "usage_sequence": sequence}

