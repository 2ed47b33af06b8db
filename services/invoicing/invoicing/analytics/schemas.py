"""Lago's analytics objects (`GrossRevenues`, `InvoiceCollections`, `InvoicedUsages`, `Mrrs`, `OverdueBalances`,
`Usages`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel


class GrossRevenue(BaseModel):
    month: datetime
    amount_cents: int
    currency: str
    invoices_count: int


class InvoiceCollection(BaseModel):
    month: datetime
    payment_status: str
    invoices_count: int
    amount_cents: int
    currency: str


class InvoicedUsage(BaseModel):
    month: datetime
    code: str | None
    amount_cents: int
    currency: str


class OverdueBalance(BaseModel):
    month: datetime
    amount_cents: int
    currency: str
    lago_invoice_ids: list[uuid.UUID]


class GrossRevenues(BaseModel):
    gross_revenues: list[GrossRevenue]


class InvoiceCollections(BaseModel):
    invoice_collections: list[InvoiceCollection]


class InvoicedUsages(BaseModel):
    invoiced_usages: list[InvoicedUsage]


class OverdueBalances(BaseModel):
    overdue_balances: list[OverdueBalance]


class Mrr(BaseModel):
    month: datetime
    amount_cents: int
    currency: str


class Mrrs(BaseModel):
    mrrs: list[Mrr]


class Usage(BaseModel):
    organization_id: uuid.UUID
    start_of_period_dt: date
    end_of_period_dt: date
    amount_currency: str
    amount_cents: int
    billable_metric_code: str | None
    units: str


class Usages(BaseModel):
    usages: list[Usage]
