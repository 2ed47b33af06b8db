"""Revenue analytics from invoicing's own invoices and fees (Lago's `/analytics/*`).

`months` keeps the last N calendar months (UTC) including the current one; without it, every month.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.analytics import repository
from invoicing.analytics.schemas import GrossRevenue, InvoiceCollection, InvoicedUsage, OverdueBalance

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
