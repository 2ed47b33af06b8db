"""Customer credits: each credit note's credit part, and the unused part of a fee paid in advance on an upgrade or
a termination when its invoice cannot take a credit note yet (not finalized: `credit_notes/unused.py` credits it
with a note otherwise); consumed by the customer's next invoices after taxes (Lago's credit-note slot), given back
when such an invoice is voided.

- The credit is computed from the fee actually billed (`billing.credits.unused_fee_credit`): its plan
  amount and full-period days, its coupon share and tax rate; nothing when the old plan was paid in
  arrears, when no fee covers the upgrade instant (trial, voided invoice) or when nothing is left unused.
- One credit per terminated subscription (unique key): a redelivered plan change credits nothing more.
- `consume` runs in the finalizing transaction with the credit rows locked, so two invoices finalizing
  at once never take the same balance (and a `CHECK` keeps every balance ≥ 0).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.credits import CreditBalance, allocate, unused_fee_credit
from invoicing.billing.subscription_fee import local_date, local_days
from invoicing.credits import repository
from invoicing.credits.models import CustomerCredit
from invoicing.invoices.models import Fee, Invoice
from invora.events.contracts.subscriptions import PlanChange, Subscription
from invora.ids import uuid7
from invora.logging import get_logger

log = get_logger(__name__)


async def credit_upgrade(session: AsyncSession, organization_id: uuid.UUID, data: PlanChange,
                         now: datetime) -> uuid.UUID | None:
    """An upgrade: the days from the upgrade's own day to the period's end are credited (the new plan bills
    the upgrade's day; Lago's `billed_from - 1 day` on upgrade)."""
    old = data.previous_subscription
    found = await unused_fee(session, organization_id, old, data.effective_at, data.effective_at)
    return await _claim(session, organization_id, old, found, "upgrade", now,
                        {"next_plan_code": data.next_subscription.plan_code})


async def credit_termination(session: AsyncSession, organization_id: uuid.UUID, subscription: Subscription,
                             terminated_at: datetime, now: datetime) -> uuid.UUID | None:
    """A subscription paid in advance terminated mid-period: the days after the termination's own day are
    credited (Lago's credit note on termination, `on_termination_credit_note` = `credit`, its default).
    `skip` credits nothing; `refund` and `offset` (paying back or reducing the paid invoice) are not built,
    so nothing is credited for them either (logged)."""
    found = await termination_unused_fee(session, organization_id, subscription, terminated_at)
    return await _claim(session, organization_id, subscription, found, "termination", now, {})


@dataclass(frozen=True, slots=True)
class UnusedFee:
    """The unused part of an advance fee: the credit it makes (taxes included) and how it was computed."""

    amount_cents: int
    fee: Fee
    invoice: Invoice
    instant: datetime
    remaining_days: int
    days_in_period: int
    plan_amount_cents: int


async def termination_unused_fee(session: AsyncSession, organization_id: uuid.UUID, subscription: Subscription,
                                 terminated_at: datetime) -> UnusedFee | None:
    """What a termination at `terminated_at` credits (the days after its own day), or None; nothing written.
    The termination's invoice and its preview (`invoices/preview_existing.py`) both ask this."""
    choice = subscription.on_termination_credit_note
    if choice not in (None, "credit"):
        log.info("termination_credit_not_built", subscription_id=str(subscription.lago_id), choice=choice)
        return None
    day = local_date(terminated_at, subscription.timezone) + timedelta(days=1)
    from_day_after = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(subscription.timezone))
    return await unused_fee(session, organization_id, subscription, terminated_at, from_day_after)


async def unused_fee(session: AsyncSession, organization_id: uuid.UUID, old: Subscription, instant: datetime,
                     unused_from: datetime) -> UnusedFee | None:
    """The unused part of the advance fee covering `instant`, from `unused_from` to that fee's end; None when the
    plan is paid in arrears, no fee covers the instant or nothing is left. Reads only (an upgrade's preview asks
    it with `unused_from` = `instant`, as `credit_upgrade`)."""
    if not old.pay_in_advance:
        return None
    found = await repository.advance_fee_at(session, organization_id, old.lago_id, instant)
    if found is None:
        log.info("unused_fee_credit_no_advance_fee", subscription_id=str(old.lago_id))
        return None
    fee, invoice = found
    details = fee.amount_details or {}
    days_in_period = int(details.get("days_in_period") or 0)
    plan_amount = int(details.get("plan_amount_cents") or old.plan_amount_cents)
    billed_from = datetime.fromisoformat(details["billed_from"]) if details.get("billed_from") else fee.from_date
    assert fee.to_date is not None and billed_from is not None
    remaining = local_days(max(unused_from, billed_from), fee.to_date, old.timezone)
    amount = unused_fee_credit(plan_amount_cents=plan_amount, days_in_period=days_in_period, remaining_days=remaining,
                               fee_amount_cents=fee.amount_cents,
                               fee_coupons_precise_cents=Decimal(fee.precise_coupons_amount_cents),
                               taxes_rate=Decimal(fee.taxes_rate))
    if amount <= 0:
        return None
    return UnusedFee(amount, fee, invoice, instant, remaining, days_in_period, plan_amount)


async def _claim(session: AsyncSession, organization_id: uuid.UUID, old: Subscription, found: UnusedFee | None,
                 reason: str, now: datetime, extra: dict[str, str]) -> uuid.UUID | None:
    if found is None:
        return None
    return await repository.claim_credit(session, dict(
        id=uuid7(), organization_id=organization_id, customer_id=found.invoice.customer_id,
        currency=found.fee.amount_currency, amount_cents=found.amount_cents, balance_cents=found.amount_cents,
        reason=reason, subscription_id=old.lago_id, source_invoice_id=found.invoice.id, source_fee_id=found.fee.id,
        created_at=now, updated_at=now,
        details={"remaining_days": found.remaining_days, "days_in_period": found.days_in_period,
                 "plan_amount_cents": found.plan_amount_cents, "effective_at": found.instant.isoformat(),
                 "previous_plan_code": old.plan_code, **extra}))


@dataclass(frozen=True, slots=True)
class CreditUse:
    credit: CustomerCredit
    amount_cents: int


async def available(session: AsyncSession, invoice: Invoice, *, lock: bool) -> list[CustomerCredit]:
    """Credits this invoice may consume (a subscription invoice in the credit's currency; not the credit's own)."""
    if invoice.invoice_type != "subscription":
        return []
    return await repository.available(session, invoice.organization_id, invoice.customer_id, invoice.currency,
                                      invoice.id, lock=lock)


def uses(credits: list[CustomerCredit], amount_cents: int) -> list[CreditUse]:
    by_id = {credit.id: credit for credit in credits}
    return [CreditUse(by_id[key], part) for key, part in  # type: ignore[index]
            allocate([CreditBalance(c.id, c.balance_cents) for c in credits], amount_cents)]


async def consume(session: AsyncSession, invoice: Invoice, taken: list[CreditUse], now: datetime) -> None:
    for use in taken:
        await repository.take(session, invoice.organization_id, invoice.id, use.credit.id, use.amount_cents, now)


async def give_back(session: AsyncSession, invoice: Invoice, now: datetime) -> int:
    return await repository.give_back(session, invoice.id, now)
