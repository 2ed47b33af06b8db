"""SQL of the revenue analytics: monthly sums over this service's own invoices and fees.

Months are the UTC month of the issuing date; only finalized invoices count (drafts, pending,
closed and voided invoices are not revenue). `since` limits to months from that day on.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_FILTERS = """
  i.organization_id = :organization AND i.status = 'finalized' AND i.issuing_date >= :since
  AND (CAST(:currency AS text) IS NULL OR i.currency = :currency)
"""

GROSS_REVENUE = text(f"""
SELECT date_trunc('month', i.issuing_date)::date AS month, i.currency,
       sum(i.total_amount_cents)::bigint AS amount_cents, count(*) AS invoices_count
FROM invoices i
WHERE {_FILTERS} AND (CAST(:customer AS text) IS NULL OR i.external_customer_id = :customer)
GROUP BY 1, 2 ORDER BY 1, 2
""")

INVOICE_COLLECTION = text(f"""
SELECT date_trunc('month', i.issuing_date)::date AS month, i.currency, i.payment_status,
       sum(i.total_amount_cents)::bigint AS amount_cents, count(*) AS invoices_count
FROM invoices i
WHERE {_FILTERS}
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
""")

INVOICED_USAGE = text(f"""
SELECT date_trunc('month', i.issuing_date)::date AS month, i.currency, f.billable_metric_code AS code,
       sum(f.amount_cents)::bigint AS amount_cents
FROM fees f JOIN invoices i ON i.id = f.invoice_id AND i.organization_id = f.organization_id
WHERE {_FILTERS} AND f.fee_type = 'charge'
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
""")

OVERDUE_BALANCE = text(f"""
SELECT date_trunc('month', i.issuing_date)::date AS month, i.currency,
       sum(i.total_amount_cents)::bigint AS amount_cents, array_agg(i.id ORDER BY i.id) AS lago_invoice_ids
FROM invoices i
WHERE {_FILTERS} AND i.payment_overdue AND i.payment_status <> 'succeeded' AND i.total_amount_cents > 0
  AND (CAST(:customer AS text) IS NULL OR i.external_customer_id = :customer)
GROUP BY 1, 2 ORDER BY 1, 2
""")


async def rows(session: AsyncSession, statement: Any, organization_id: uuid.UUID, since: date,
               currency: str | None, customer: str | None = None) -> list[Any]:
    return list((await session.execute(statement, {"organization": organization_id, "since": since,
                                                   "currency": currency, "customer": customer})).all())


# subscription fees of finalized invoices, net of coupons, taxes included (Lago's MRR base); the plan interval is
# told by the length of the fee's full billing period (`amount_details.days_in_period`), prorated or not
MRR_FEES = text("""
SELECT i.issuing_date, i.currency, f.pay_in_advance,
       (f.amount_cents - f.precise_coupons_amount_cents + f.taxes_amount_cents) AS amount,
       CAST(f.amount_details ->> 'days_in_period' AS integer) AS days_in_period
FROM fees f JOIN invoices i ON i.id = f.invoice_id AND i.organization_id = f.organization_id
WHERE i.organization_id = :organization AND i.status = 'finalized' AND f.fee_type = 'subscription'
  AND (CAST(:currency AS text) IS NULL OR i.currency = :currency)
ORDER BY i.issuing_date, f.id
""")


async def mrr_fees(session: AsyncSession, organization_id: uuid.UUID, currency: str | None) -> list[Any]:
    return list((await session.execute(MRR_FEES, {"organization": organization_id, "currency": currency})).all())


# invoiced usage (charge fees of finalized invoices) by the UTC day, week (from Monday) or month its period began
USAGE = text("""
SELECT date_trunc(:granularity, f.from_date AT TIME ZONE 'UTC')::date AS period, f.amount_currency AS currency,
       f.billable_metric_code AS code, sum(f.amount_cents)::bigint AS amount_cents, sum(f.units) AS units
FROM fees f JOIN invoices i ON i.id = f.invoice_id AND i.organization_id = f.organization_id
LEFT JOIN customers c ON c.organization_id = f.organization_id AND c.id = f.customer_id
WHERE f.organization_id = :organization AND i.status = 'finalized' AND f.fee_type = 'charge'
  AND f.from_date IS NOT NULL
  AND (CAST(:currency AS text) IS NULL OR f.amount_currency = :currency)
  AND (CAST(:from_date AS date) IS NULL OR (f.from_date AT TIME ZONE 'UTC')::date >= :from_date)
  AND (CAST(:to_date AS date) IS NULL OR (f.from_date AT TIME ZONE 'UTC')::date <= :to_date)
  AND (CAST(:customer AS text) IS NULL OR f.external_customer_id = :customer)
  AND (CAST(:subscription AS text) IS NULL OR f.external_subscription_id = :subscription)
  AND (CAST(:plan_code AS text) IS NULL OR f.item ->> 'plan_code' = :plan_code)
  AND (CAST(:metric AS text) IS NULL OR f.billable_metric_code = :metric)
  AND (CAST(:customer_type AS text) IS NULL OR c.body ->> 'customer_type' = :customer_type)
  AND (CAST(:country AS text) IS NULL OR c.body ->> 'country' = :country)
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
""")


async def usage(session: AsyncSession, organization_id: uuid.UUID, granularity: str,
                filters: dict[str, Any]) -> list[Any]:
    return list((await session.execute(USAGE, {"organization": organization_id, "granularity": granularity,
                                               **filters})).all())
