"""Preview of existing subscriptions (Lago's `POST /invoices/preview` with `subscriptions.external_ids`): what the
customer's next invoice of those subscriptions would be if their open periods ended now. Writes nothing: no
row, no event, no coupon, credit or wallet touched (`test_preview_existing.py` compares the tables before and
after).

- Each subscription and its open period's usage are read fresh from the subscriptions service over HTTP
  (`GET /subscriptions/{id}`, `GET /customers/{id}/current_usage`, a `service` key, timeout and retry;
  unreachable: 503). The usage is priced again with the plan version this service keeps, exactly as the
  period's real invoice will be (`generate.period_lines`: subscription fee in arrears for the open period, or
  paid in advance for the next one; charges; minimum true-ups).
- Then the invoice's own order: the customer's applied coupons (oldest first) and inline `coupons`, taxes by
  precedence, the customer's credits (upgrade credits), and prepaid credits: when the wallets projection says
  the customer has an active wallet in the currency, the wallets service's balances (fresh, over HTTP) up to
  the amount due (an estimate: a wallet's `applies_to` restriction is not applied here).
- Progressive billing: the period invoice's own deduction (`service.period_progressive_credit`, when
  `service.deducts_progressive_billing`), and the units its progressive invoices credited priced as credited
  (`generate.progressive_unit_credits`): the preview equals the period-end invoice.
- Unit credits (seed 002): when the grants projection says the customer holds a live grant of a metric the
  periods price, what is left of its grants is read from wallets (`GET /customers/{id}/unit_credits`, fresh,
  nothing consumed) and offsets the periods' units as the real invoice will (`unit_credits.requested_units`
  then `generate.period_lines` with the credited units), subscription after subscription from one pool.
- Not supported (422, the input schema admits null only): a plan change (`subscriptions.plan_code`) or a
  termination (`subscriptions.terminated_at`) previewed; `plan_code` with `subscriptions` matches neither input.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

from dateutil.relativedelta import relativedelta
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.compute import FeeLine, compute_invoice
from invoicing.billing.coupons import CouponState
from invoicing.billing.prepaid import with_prepaid_credit
from invoicing.billing.subscription_fee import calendar_period, local_date
from invoicing.credits import repository as credits
from invoicing.invoices import generate, repository, service
from invoicing.invoices.errors import DependencyUnavailable, PlanVersionUnknown
from invoicing.invoices.models import Fee, Invoice, InvoiceAppliedTax
from invoicing.invoices.render import render_invoice
from invoicing.invoices.schemas import PreviewSubscriptionsInput
from invoicing.prepaid_credits import repository as wallets
from invoicing.projections import repository as projections
from invoicing.runtime import InvoicingRuntime
from invoicing.unit_credits import service as unit_credits
from invora.errors import NotFound, ValidationFailed
from invora.events.contracts.invoicing import Invoice as InvoiceObject
from invora.events.contracts.subscriptions import BillingPeriodEnded, Subscription, UsageSnapshot
from invora.service_client import ServiceClient, ServiceUnavailableError

NIL = uuid.UUID(int=0)
_INTERVALS = {"weekly": relativedelta(weeks=1), "monthly": relativedelta(months=1),
              "quarterly": relativedelta(months=3), "semiannual": relativedelta(months=6),
              "yearly": relativedelta(years=1)}


def open_period(subscription: Subscription, usage: UsageSnapshot) -> BillingPeriodEnded:
    """The subscription's open period as if it closed now (the event its real invoice will come from)."""
    start, end = subscription.current_billing_period_started_at, subscription.current_billing_period_ending_at
    if start is None or end is None:
        raise ValidationFailed(subscriptions=["no_open_billing_period"])
    timezone, interval = subscription.timezone, subscription.plan_interval
    calendar = subscription.billing_time == "calendar"
    full_start, full_end = calendar_period(start, interval, timezone) if calendar else (start, end)
    next_start = next_end = None
    if subscription.pay_in_advance and (subscription.ending_at is None or subscription.ending_at > end):
        next_start, next_end = calendar_period(end, interval, timezone) if calendar else (
            end, end + _INTERVALS.get(interval, relativedelta(months=1)))
    return BillingPeriodEnded(
        lago_billing_period_id=NIL, subscription=subscription, lago_plan_version_id=subscription.lago_plan_version_id,
        plan_overrides=subscription.plan_overrides, period_start=start, period_end=end, full_period_start=full_start,
        full_period_end=full_end, reason="period_end", timezone=timezone, in_trial_until=subscription.trial_ends_at,
        next_period_start=next_start, next_period_end=next_end, usage=usage)


async def _get(client: ServiceClient, service_name: str, organization_id: uuid.UUID, path: str,
               params: dict | None = None) -> dict | None:
    try:
        return await client.get(organization_id, path, params=params)
    except ServiceUnavailableError as exc:
        raise DependencyUnavailable(f"the {service_name} service did not answer, retry later") from exc


async def _subscription(runtime: InvoicingRuntime, organization_id: uuid.UUID, customer_external_id: str,
                        external_id: str) -> tuple[Subscription, UsageSnapshot]:
    found = await _get(runtime.subscriptions, "subscriptions", organization_id,
                       f"/api/v1/subscriptions/{quote(external_id, safe='')}")
    if found is None:
        raise NotFound("subscription")
    subscription = Subscription.model_validate(found["subscription"])
    if subscription.external_customer_id != customer_external_id:
        raise NotFound("subscription")
    if subscription.status != "active":
        raise ValidationFailed(subscriptions=["subscription_not_active"])
    usage = await _get(
        runtime.subscriptions, "subscriptions", organization_id,
        f"/api/v1/customers/{quote(customer_external_id, safe='')}/current_usage",
        params={"external_subscription_id": external_id, "apply_taxes": "false"})
    if usage is None:
        raise NotFound("subscription")
    return subscription, UsageSnapshot.model_validate(usage["customer_usage"])


async def _wallet_balance(runtime: InvoicingRuntime, organization_id: uuid.UUID, external_customer_id: str,
                          currency: str) -> int:
    found = await _get(runtime.wallets, "wallets", organization_id, "/api/v1/wallets",
                       params={"external_customer_id": external_customer_id, "per_page": 100})
    return sum(int(w["balance_cents"]) for w in (found or {}).get("wallets", [])
               if w["status"] == "active" and w["currency"] == currency)


async def _unit_credits_left(runtime: InvoicingRuntime, organization_id: uuid.UUID, external_customer_id: str,
                             metrics: set[str], at: datetime) -> dict[str, Decimal]:
    """What is left of the customer's live grants, per metric (only the metrics the projection names)."""
    left: dict[str, Decimal] = {}
    page = 1
    while True:
        found = await _get(runtime.wallets, "wallets", organization_id,
                           f"/api/v1/customers/{quote(external_customer_id, safe='')}/unit_credits",
                           params={"status": "active", "per_page": 100, "page": page}) or {}
        for grant in found.get("unit_credits", []):
            expires = grant.get("expiration_at")
            if grant["billable_metric_code"] in metrics and (expires is None or datetime.fromisoformat(expires) > at):
                left[grant["billable_metric_code"]] = left.get(grant["billable_metric_code"], Decimal(0)) + Decimal(
                    grant["remaining_units"])
        meta = found.get("meta") or {}
        if not meta.get("next_page"):
            return {metric: units for metric, units in left.items() if units > 0}
        page = meta["next_page"]


def _take(pool: dict[str, Decimal], wanted: dict[str, Decimal]) -> dict[str, Decimal]:
    """The units credited to one period (at most what is left in the pool, which they leave)."""
    credited = {}
    for metric, units in wanted.items():
        take = min(units, pool.get(metric, Decimal(0)))
        if take > 0:
            credited[metric] = take
            pool[metric] -= take
    return credited


async def preview_existing(session: AsyncSession, organization_id: uuid.UUID, data: PreviewSubscriptionsInput,
                           runtime: InvoicingRuntime, now: datetime) -> InvoiceObject:
    customer = await projections.customer_by_external_id(session, organization_id, data.customer.external_id)
    if customer is None or customer.deleted_at is not None:
        raise NotFound("customer")

    lines: list[FeeLine] = []
    progressive = 0
    period: BillingPeriodEnded | None = None
    metrics = await unit_credits.live_metrics(session, organization_id, customer.id, now)
    pool = await _unit_credits_left(runtime, organization_id, customer.external_id, metrics, now) if metrics else {}
    for external_id in dict.fromkeys(data.subscriptions.external_ids):
        subscription, usage = await _subscription(runtime, organization_id, customer.external_id, external_id)
        event = open_period(subscription, usage)
        if period is not None and event.subscription.plan_amount_currency != period.subscription.plan_amount_currency:
            raise ValidationFailed(currency=["currencies_does_not_match"])
        period = period or event
        try:
            ctx = await generate.context_of(session, organization_id, subscription, subscription.lago_plan_version_id)
        except PlanVersionUnknown as exc:
            raise NotFound("plan") from exc
        # as the period's invoice (`generate.invoice_period`): the units its progressive-billing invoices credited
        # are priced as credited and not asked again; what is left to ask comes from the grants' pool
        prior = await generate.progressive_unit_credits(session, organization_id, ctx, event)
        credited = _take(pool, unit_credits.still_wanted(
            unit_credits.requested_units(ctx.version.body, event, set(pool)), prior)) if pool else {}
        priced = {metric: Decimal(units) for metric, units in unit_credits.merged(prior, credited).items()}
        own = generate.period_lines(ctx, event, priced or None)
        # the minimum commitment's true-up, as the period's invoice adds it (nothing of this preview is stored)
        own += await generate.period_commitment_lines(session, ctx, event, organization_id,
                                                      event.subscription.plan_amount_currency, NIL, own)
        for amount, taxes, payload in own:
            lines.append(FeeLine(amount, taxes, plan_code=(payload.get("item") or {}).get("plan_code"),
                                 billable_metric_code=payload.get("billable_metric_code"), payload=payload))
        # the progressive-billing deduction the period's invoice will take (the same rule: finalized progressive
        # invoices of the period), capped as that invoice caps it (`billing.totals`: at most its own fees)
        if service.deducts_progressive_billing(event.reason, ctx.version.body, subscription.plan_overrides):
            progressive += min(await service.period_progressive_credit(
                session, organization_id, subscription.lago_id, event.period_start),
                sum(amount for amount, _, _ in own))
    assert period is not None
    currency = period.subscription.plan_amount_currency

    coupons: list[CouponState] = [service.coupon_state(c) for c in await repository.active_coupons(
        session, organization_id, customer.id, lock=False)]
    for n, inline in enumerate(data.coupons or []):
        coupons.append(CouponState(
            id=uuid.uuid5(NIL, f"{inline.code}:{n}"), coupon_type=inline.coupon_type or "fixed_amount",
            frequency="once", created_at=now, amount_cents=inline.amount_cents,
            amount_cents_remaining=inline.amount_cents, amount_currency=inline.amount_currency or currency,
            percentage_rate=inline.percentage_rate))
    customer_credits = await credits.available(session, organization_id, customer.id, currency, NIL, lock=False)
    computed = compute_invoice(lines, coupons, currency, now, progressive_billing_credit=progressive,
                               credit_notes=sum(c.balance_cents for c in customer_credits))
    t = computed.totals
    prepaid = 0
    if await wallets.has_active_wallet(session, organization_id, customer.id, currency):
        balance = await _wallet_balance(runtime, organization_id, customer.external_id, currency)
        prepaid = with_prepaid_credit(sub_total_including_taxes=t.sub_total_including_taxes_amount_cents,
                                      credit_notes=t.credit_notes_amount_cents,
                                      applied=balance).prepaid_credit_amount_cents

    issuing = local_date(period.period_end, period.timezone)
    invoice = Invoice(
        id=NIL, organization_id=organization_id, customer_id=customer.id, external_customer_id=customer.external_id,
        subscription_id=period.subscription.lago_id if len(data.subscriptions.external_ids) == 1 else None,
        external_subscription_id=period.subscription.external_id if len(data.subscriptions.external_ids) == 1
        else None, billing_reason="preview", invoice_type="subscription", status="draft", payment_status="pending",
        currency=currency, number=None, sequential_id=None, issuing_date=issuing, payment_due_date=issuing,
        net_payment_term=0, payment_overdue=False, version_number=4, period_start=period.period_start,
        period_end=period.period_end, fees_amount_cents=t.fees_amount_cents,
        progressive_billing_credit_amount_cents=t.progressive_billing_credit_amount_cents,
        coupons_amount_cents=t.coupons_amount_cents,
        sub_total_excluding_taxes_amount_cents=t.sub_total_excluding_taxes_amount_cents,
        taxes_amount_cents=t.taxes_amount_cents,
        sub_total_including_taxes_amount_cents=t.sub_total_including_taxes_amount_cents,
        credit_notes_amount_cents=t.credit_notes_amount_cents, prepaid_credit_amount_cents=prepaid,
        total_amount_cents=t.total_amount_cents - prepaid, metadata_items=[], error_details=[], source={},
        created_at=now, updated_at=now)
    fees = []
    for n, (line, result) in enumerate(zip(lines, computed.fees, strict=True)):
        payload = {key: value for key, value in line.payload.items() if key not in ("amount_cents",)}
        fees.append(Fee(
            id=uuid.uuid5(NIL, f"fee:{n}"), organization_id=organization_id, invoice_id=NIL,
            customer_id=customer.id, external_customer_id=customer.external_id, amount_currency=currency,
            amount_cents=line.amount_cents, precise_coupons_amount_cents=result.precise_coupons_amount_cents,
            taxes_amount_cents=result.taxes_amount_cents, taxes_precise_amount_cents=result.taxes_precise_amount_cents,
            taxes_rate=result.taxes_rate, applied_taxes=[{**entry, "lago_id": str(NIL)} for entry in
                                                         service.fee_tax_entries(result, currency)],
            invoiceable=True, payment_status="pending", created_at=now, updated_at=now,
            **{"grouped_by": {}, "unit_amount_cents": 0, "precise_unit_amount": Decimal(0), **payload}))
    applied = [InvoiceAppliedTax(
        id=NIL, organization_id=organization_id, invoice_id=NIL, tax_id=uuid.UUID(tax.tax.id) if tax.tax.id else None,
        tax_code=tax.tax.code, tax_name=tax.tax.name, tax_description=tax.tax.description, tax_rate=tax.tax.rate,
        fees_amount_cents=tax.base_cents, amount_cents=tax.amount_cents, amount_currency=currency, created_at=now)
        for tax in computed.taxes]
    return render_invoice(invoice, fees, applied, customer.body)
