"""The credit note of a subscription's unused advance fee on termination or upgrade (Lago's
`CreditNotes::CreateFromTermination`, called by its `Subscriptions::TerminateService`).

- Only a plan paid in advance, only when its `on_termination_credit_note` is `credit` (or unset: Lago's default),
  `refund` or `offset`; `skip` credits nothing. An upgrade credits too (Lago terminates the old subscription the
  same way), with the credit part only (Lago refuses a refund or offset on upgrade).
- On the invoice of the advance fee covering the termination (or upgrade) instant, finalized: one item on that
  fee for its unused days — day price (the fee's plan amount ÷ its period's days) × the days after the
  termination's own day (an upgrade: from the upgrade's day, which the new plan bills), rounded once to a minor
  unit, at most what is left of the fee after earlier notes — and the credit-note maths of any note
  (`amounts.compute`: the fee's coupon share back, its taxes per rate rounded once). Reason `order_cancellation`.
- The split (`amounts.split_unused`): `credit` all; `refund` what was paid of the unused days (the fee's share of
  what payments paid less the used days' amount, within what payments can refund, newest payment first) and the
  rest credited; `offset` that refund and the rest deducted from what the invoice still owes (any rest credited).
  The refund goes back through payments as any note's (`credit_note.refund_requested`); the offset settles the
  invoice as any note's.
- One note per subscription (a unique index on `terminated_subscription_id`), checked under the invoice's lock:
  a redelivered or replayed termination makes none more.
- The advance fee's invoice not finalized (a draft in its grace period, `pending` prepaid credits): no note can
  be numbered on it, so the unused days are credited as before credit notes existed (`credits.service`:
  a customer credit without number or items) — `Fallback`.

The preview of a termination or upgrade (`invoices/preview_existing.py`) asks `planned` with `lock=False`:
the same amounts, nothing written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.credits import unused_fee_credit
from invoicing.billing.subscription_fee import local_date, local_days
from invoicing.credit_notes import amounts, repository, service
from invoicing.credit_notes.models import CreditNote
from invoicing.credits import repository as credits_repository
from invoicing.invoices import repository as invoices
from invoicing.invoices.models import Fee, Invoice
from invora.events.contracts.subscriptions import Subscription
from invora.logging import get_logger

log = get_logger(__name__)
REASON = "order_cancellation"


class Fallback:
    """The advance fee's invoice takes no credit note (not finalized): credit the unused days the old way."""


FALLBACK = Fallback()


@dataclass(frozen=True, slots=True)
class Planned:
    invoice: Invoice
    fees: dict[uuid.UUID, Fee]
    item: tuple[uuid.UUID, int]
    computed: amounts.Amounts
    credit: int
    refund: int
    offset: int
    parts: list[tuple[uuid.UUID, int]]


def termination_unused_from(subscription: Subscription, terminated_at: datetime) -> datetime:
    """A termination's own day is used (Lago): the unused days start the next local day."""
    day = local_date(terminated_at, subscription.timezone) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(subscription.timezone))


async def planned(session: AsyncSession, organization_id: uuid.UUID, subscription: Subscription, instant: datetime,
                  unused_from: datetime, *, upgrade: bool, lock: bool) -> Planned | Fallback | None:
    """What the note would hold (None: nothing to credit; `FALLBACK`: credit it the old way). With `lock`, the
    advance fee's invoice is locked (the caller writes the note in this transaction)."""
    choice = subscription.on_termination_credit_note
    if not subscription.pay_in_advance or choice == "skip":
        return None
    found = await credits_repository.advance_fee_at(session, organization_id, subscription.lago_id, instant)
    if found is None:
        log.info("unused_fee_credit_no_advance_fee", subscription_id=str(subscription.lago_id))
        return None
    fee, invoice = found
    if lock:
        locked = await invoices.lock_invoice(session, organization_id, invoice.id)
        assert locked is not None
        invoice = locked
    if invoice.status != "finalized" or invoice.number is None:
        return FALLBACK
    details = fee.amount_details or {}
    days_in_period = int(details.get("days_in_period") or 0)
    plan_amount = int(details.get("plan_amount_cents") or subscription.plan_amount_cents)
    billed_from = datetime.fromisoformat(details["billed_from"]) if details.get("billed_from") else fee.from_date
    assert fee.to_date is not None and billed_from is not None
    tz = subscription.timezone
    remaining = local_days(max(unused_from, billed_from), fee.to_date, tz)
    credited = await repository.credited_by_fee(session, invoice.id)
    creditable = service.creditable(fee, credited.get(fee.id, 0))
    item = amounts.unused_item_cents(plan_amount_cents=plan_amount, days_in_period=days_in_period,
                                     remaining_days=remaining, creditable_cents=creditable.creditable_cents)
    if item <= 0:
        return None
    computed = amounts.compute({fee.id: creditable}, [(fee.id, item)])
    total = computed.total_amount_cents
    left = invoice.total_amount_cents - await repository.credited_total(session, invoice.id)
    if total <= 0 or total > left:  # earlier notes took the invoice's total: nothing left to credit
        log.info("unused_fee_credit_nothing_left", subscription_id=str(subscription.lago_id), total=total, left=left)
        return None
    refund_cap = offset_cap = 0
    refundable: dict[uuid.UUID, int] = {}
    if choice in ("refund", "offset") and not upgrade:
        refundable = await repository.refundable_by_payment(session, invoice.id)
        used_days = local_days(billed_from, unused_from, tz) if unused_from > billed_from else 0
        used = unused_fee_credit(plan_amount_cents=plan_amount, days_in_period=days_in_period,
                                 remaining_days=used_days, fee_amount_cents=fee.amount_cents,
                                 fee_coupons_precise_cents=Decimal(fee.precise_coupons_amount_cents),
                                 taxes_rate=Decimal(fee.taxes_rate))
        fee_total = Decimal(fee.amount_cents) - Decimal(fee.precise_coupons_amount_cents) + Decimal(
            fee.taxes_precise_amount_cents)
        paid = amounts.paid_share(fee_total_precise_cents=fee_total,
                                  invoice_sub_total_including_taxes_cents=invoice.sub_total_including_taxes_amount_cents,
                                  invoice_paid_cents=invoice.total_paid_amount_cents)
        refund_cap = min(int(paid.quantize(Decimal(1), ROUND_HALF_UP)) - used,
                         amounts.max_refundable(total, refundable))
        offset_cap = amounts.max_offsettable(total, service.due(invoice))
    credit, refund, offset = amounts.split_unused(total, None if upgrade else choice, refund_cap_cents=refund_cap,
                                                  offset_cap_cents=offset_cap)
    parts = amounts.refund_parts(refundable, refund) if refund else []
    if refund and not parts:  # payments can refund none of it after all: credited instead
        credit, refund = credit + refund, 0
    return Planned(invoice, {fee.id: fee}, (fee.id, item), computed, credit, refund, offset, parts)


async def credit_unused(session: AsyncSession, organization_id: uuid.UUID, subscription: Subscription,
                        instant: datetime, unused_from: datetime, now: datetime, *,
                        upgrade: bool) -> CreditNote | Fallback | None:
    """The note of the subscription's unused advance fee, written (once per subscription), or `FALLBACK`."""
    plan = await planned(session, organization_id, subscription, instant, unused_from, upgrade=upgrade, lock=True)
    if not isinstance(plan, Planned):
        return plan
    if await repository.note_of_terminated_subscription(session, organization_id, subscription.lago_id):
        return None  # made already (a redelivered or replayed termination), under the same invoice lock
    kind = "upgrade" if upgrade else "termination"
    return await service.write(
        session, plan.invoice, plan.computed, plan.fees, [plan.item], credit=plan.credit, refund=plan.refund,
        offset=plan.offset, parts=plan.parts, reason=REASON,
        description=f"Unused days of {subscription.plan_code} ({kind} of {subscription.external_id})",
        metadata=None, now=now, terminated_subscription_id=subscription.lago_id)
