"""HTTP routes of the revenue analytics (`/api/v1/analytics/*`, Lago's shapes); staff keys only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from invoicing.analytics import service
from invoicing.analytics.schemas import GrossRevenues, InvoiceCollections, InvoicedUsages, Mrrs, OverdueBalances, Usages
from invora.auth.deps import Writer
from invora.countries import COUNTRIES
from invora.money import CURRENCIES
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import LIST_ERRORS
from invora.web.inputs import Choice, IsoDay

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
Currency = Annotated[str | None, Choice(CURRENCIES, "currency_code_invalid"), Query()]
Months = Annotated[int | None, Query(ge=1, le=1200, description="The last N months (UTC), this one included.")]
Customer = Annotated[str | None, Query(max_length=255)]
RULE = ("Finalized invoices only, by the UTC month of their issuing date; months with nothing are not listed. "
        "Admin and billing-admin keys only.")


@router.get("/gross_revenue", response_model=GrossRevenues, responses=LIST_ERRORS, summary="List gross revenue",
            description=f"Σ `total_amount_cents` and the count of invoices per month and currency. {RULE}")
async def gross_revenue(session: DbSession, principal: Writer, request: Request, currency: Currency = None,
                        external_customer_id: Customer = None, months: Months = None) -> GrossRevenues:
    return GrossRevenues(gross_revenues=await service.gross_revenues(
        session, principal.organization_id, now(request).date(), months, currency, external_customer_id))


@router.get("/invoice_collection", response_model=InvoiceCollections, responses=LIST_ERRORS,
            summary="List of finalized invoices",
            description=f"Per month, currency and `payment_status`: the count and Σ `total_amount_cents`. {RULE}")
async def invoice_collection(session: DbSession, principal: Writer, request: Request, currency: Currency = None,
                             months: Months = None) -> InvoiceCollections:
    return InvoiceCollections(invoice_collections=await service.invoice_collections(
        session, principal.organization_id, now(request).date(), months, currency))


@router.get("/invoiced_usage", response_model=InvoicedUsages, responses=LIST_ERRORS, summary="List usage revenue",
            description=f"Σ of usage (charge) fees' `amount_cents` per month, currency and billable metric `code`. "
                        f"{RULE}")
async def invoiced_usage(session: DbSession, principal: Writer, request: Request, currency: Currency = None,
                         months: Months = None) -> InvoicedUsages:
    return InvoicedUsages(invoiced_usages=await service.invoiced_usages(
        session, principal.organization_id, now(request).date(), months, currency))


@router.get("/mrr", response_model=Mrrs, responses=LIST_ERRORS, summary="List MRR",
            description="Monthly recurring revenue per month and currency: subscription fees of finalized invoices "
                        "(`amount_cents` − coupons + taxes) spread over the months they pay for — monthly plans in "
                        "the issuing month; quarterly, semiannual and yearly plans evenly over 3, 6 or 12 months, "
                        "forward from the issuing month when paid in advance, backward when paid in arrears; "
                        "weekly plans: Σ / count of the month's weekly fees × 4.33. Months up to the current one; "
                        "months with nothing are not listed. Admin and billing-admin keys only.")
async def mrr(session: DbSession, principal: Writer, request: Request, currency: Currency = None,
              months: Months = None) -> Mrrs:
    return Mrrs(mrrs=await service.mrrs(session, principal.organization_id, now(request).date(), months, currency))


@router.get("/overdue_balance", response_model=OverdueBalances, responses=LIST_ERRORS,
            summary="List overdue balance",
            description=f"Σ `total_amount_cents` of invoices past their due date and not paid, with their ids, per "
                        f"month and currency. {RULE}")
async def overdue_balance(session: DbSession, principal: Writer, request: Request, currency: Currency = None,
                          external_customer_id: Customer = None, months: Months = None) -> OverdueBalances:
    return OverdueBalances(overdue_balances=await service.overdue_balances(
        session, principal.organization_id, now(request).date(), months, currency, external_customer_id))


@router.get("/usage", response_model=Usages, responses=LIST_ERRORS, summary="List usage",
            description="Invoiced usage: Σ `amount_cents` (before taxes) and Σ units of the usage (charge) fees of "
                        "finalized invoices per period — the UTC day, week (from Monday) or month the fee's billing "
                        "period began (`time_granularity`, monthly by default) — currency and billable metric; "
                        "`from_date`/`to_date` bound that day. Usage of the current, not yet invoiced period is not "
                        "counted. Lago's `is_billable_metric_recurring` is not served (422 `not_supported`): invoicing "
                        "does not know which metrics are recurring. Admin and billing-admin keys only.")
async def usage(session: DbSession, principal: Writer, request: Request, currency: Currency = None,
                time_granularity: Annotated[Literal["daily", "weekly", "monthly"], Query()] = "monthly",
                from_date: Annotated[IsoDay | None, Query()] = None, to_date: Annotated[IsoDay | None, Query()] = None,
                customer_type: Annotated[Literal["individual", "company"] | None, Query()] = None,
                external_customer_id: Customer = None,
                customer_country: Annotated[str | None, Choice(COUNTRIES, "country_code_invalid"), Query()] = None,
                external_subscription_id: Customer = None,
                plan_code: Customer = None, billable_metric_code: Customer = None) -> Usages:
    # not in the schema: the filter is refused (invoicing cannot tell recurring metrics), and a schema must not
    # promise it
    return Usages(usages=await service.usages(
        session, principal.organization_id, time_granularity,
        is_billable_metric_recurring=request.query_params.get("is_billable_metric_recurring"),
        currency=currency, from_date=from_date, to_date=to_date, customer_type=customer_type,
        customer=external_customer_id, country=customer_country, subscription=external_subscription_id,
        plan_code=plan_code, metric=billable_metric_code))
