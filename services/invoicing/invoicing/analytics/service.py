"""Revenue analytics from invoicing's own invoices and fees (Lago's `/analytics/*`).

`months` keeps the last N calendar months (UTC) including the current one; without it, every month.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.analytics import repository
from invoicing.analytics.schemas import GrossRevenue, InvoiceCollection, InvoicedUsage, Mrr, OverdueBalance, Usage
from invora.errors import FieldError

EPOCH = date(1970, 1, 1)


def first_month(today: date, months: int | None) -> date:
    """The first day of the earliest month kept (`months` = 1: this month)."""
    if months is None:
        return EPOCH
    index = today.year * 12 + today.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _month(value: date) -> datetime:
    return datetime(value.year, value.month, 1, tzinfo=UTC)


async def gross_revenues(session: AsyncSession, organization_id: uuid.UUID, today: date, months: int | None,
                         currency: str | None, customer: str | None) -> list[GrossRevenue]:
    found = await repository.rows(session, repository.GROSS_REVENUE, organization_id, first_month(today, months),
                                  currency, customer)
    return [GrossRevenue(month=_month(r.month), amount_cents=r.amount_cents, currency=r.currency,
                         invoices_count=r.invoices_count) for r in found]


async def invoice_collections(session: AsyncSession, organization_id: uuid.UUID, today: date, months: int | None,
                              currency: str | None) -> list[InvoiceCollection]:
    found = await repository.rows(session, repository.INVOICE_COLLECTION, organization_id,
                                  first_month(today, months), currency)
    return [InvoiceCollection(month=_month(r.month), payment_status=r.payment_status,
                              invoices_count=r.invoices_count, amount_cents=r.amount_cents, currency=r.currency)
            for r in found]


async def invoiced_usages(session: AsyncSession, organization_id: uuid.UUID, today: date, months: int | None,
                          currency: str | None) -> list[InvoicedUsage]:
    found = await repository.rows(session, repository.INVOICED_USAGE, organization_id, first_month(today, months),
                                  currency)
    return [InvoicedUsage(month=_month(r.month), code=r.code, amount_cents=r.amount_cents, currency=r.currency)
            for r in found]


async def overdue_balances(session: AsyncSession, organization_id: uuid.UUID, today: date, months: int | None,
                           currency: str | None, customer: str | None) -> list[OverdueBalance]:
    found: list[Any] = await repository.rows(session, repository.OVERDUE_BALANCE, organization_id,
                                             first_month(today, months), currency, customer)
    return [OverdueBalance(month=_month(r.month), amount_cents=r.amount_cents, currency=r.currency,
                           lago_invoice_ids=list(r.lago_invoice_ids)) for r in found]


# Lago's MRR (`GET /analytics/mrr`): subscription fees of finalized invoices, `amount − coupons + taxes`, spread
# over the months the fee pays for. The plan interval is told by the fee's full billing period in days:
WEEKLY_DAYS, MONTHLY_DAYS, QUARTERLY_DAYS, SEMIANNUAL_DAYS = 7, 31, 92, 184
SHARE = Decimal("1e-10")  # a month's share, in cents: exact sums far beyond any real amount
WEEKS_PER_MONTH = Decimal("4.33")  # Lago's figure for weekly plans (spec: "multiplied by 4.33")


def interval_months(days_in_period: int | None) -> int:
    """Months one fee is spread over: 0 for a weekly plan (averaged instead), 1 monthly, 3, 6 or 12."""
    days = days_in_period or 30
    if days <= WEEKLY_DAYS:
        return 0
    if days <= MONTHLY_DAYS:
        return 1
    if days <= QUARTERLY_DAYS:
        return 3
    return 6 if days <= SEMIANNUAL_DAYS else 12


def _shift(month: date, by: int) -> date:
    index = month.year * 12 + month.month - 1 + by
    return date(index // 12, index % 12 + 1, 1)


def mrr_by_month(fees: list[Any], last: date) -> dict[tuple[date, str], Decimal]:
    """Σ per (month, currency) of the fees' monthly shares, months up to `last` (the current month) only.

    A fee of an n-month plan adds `amount / n` to n months: the issuing month and the n − 1 after it when paid in
    advance, before it when paid in arrears (Lago's rule, without its day-prorated first advance month). Weekly
    fees: per month and currency, Σ amount / count of weekly fees × 4.33.
    """
    total: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    weekly: dict[tuple[date, str], list[Decimal]] = defaultdict(list)
    for fee in fees:
        issued = date(fee.issuing_date.year, fee.issuing_date.month, 1)
        amount, months = Decimal(fee.amount), interval_months(fee.days_in_period)
        if months == 0:
            weekly[(issued, fee.currency)].append(amount)
            continue
        step, share = (1 if fee.pay_in_advance else -1), (amount / months).quantize(SHARE)
        for index in range(months):  # the last month takes the remainder: the shares add up to the fee exactly
            total[(_shift(issued, step * index), fee.currency)] += share if index < months - 1 \
                else amount - share * (months - 1)
    for key, amounts in weekly.items():
        total[key] += sum(amounts, Decimal(0)) / len(amounts) * WEEKS_PER_MONTH
    return {key: value for key, value in total.items() if key[0] <= last}


async def mrrs(session: AsyncSession, organization_id: uuid.UUID, today: date, months: int | None,
               currency: str | None) -> list[Mrr]:
    first, last = first_month(today, months), date(today.year, today.month, 1)
    spread = mrr_by_month(await repository.mrr_fees(session, organization_id, currency), last)
    return [Mrr(month=_month(month), currency=code, amount_cents=int(amount.quantize(Decimal(1), ROUND_HALF_UP)))
            for (month, code), amount in sorted(spread.items()) if month >= first]


GRANULARITIES = {"daily": "day", "weekly": "week", "monthly": "month"}


class RecurringFilterNotSupported(FieldError):
    """Invoicing does not know which billable metrics are recurring: a filter it would silently ignore is refused."""

    field, reason = "is_billable_metric_recurring", "not_supported"


def _period_end(start: date, granularity: str) -> date:
    if granularity == "daily":
        return start
    if granularity == "weekly":
        return start + timedelta(days=6)
    return _shift(start, 1) - timedelta(days=1)


async def usages(session: AsyncSession, organization_id: uuid.UUID, granularity: str, *,
                 is_billable_metric_recurring: str | None, **filters: Any) -> list[Usage]:
    """Lago's `/analytics/usage` from invoiced usage: Σ `amount_cents` and units of the charge fees of finalized
    invoices per period (the UTC day, ISO week or month the fee's billing period began), currency and metric."""
    if is_billable_metric_recurring is not None:
        raise RecurringFilterNotSupported()
    found = await repository.usage(session, organization_id, GRANULARITIES[granularity], filters)
    return [Usage(organization_id=organization_id, start_of_period_dt=r.period,
                  end_of_period_dt=_period_end(r.period, granularity), amount_currency=r.currency,
                  amount_cents=r.amount_cents, billable_metric_code=r.code, units=format(Decimal(r.units), "f"))
            for r in found]
