"""Invoices of paid credits (Lago's `credit` invoices): wallets' `wallet.paid_credits_invoice_requested` for a
top-up whose credits were granted at once (the wallet does not require a successful payment first).

One invoice per wallet transaction (`source_key` `wallet_transaction:<id>`, a unique key: a redelivered or
repeated request makes nothing more), one fee of type `credit` (units: the credits; unit price: the wallet's
rate), no taxes, no coupons, no customer credits and no prepaid credits (Lago taxes credits when they are
consumed, not when bought), finalized at once: Lago's `invoice.paid_credit_added`, then `invoice.created` +
`invoice.finalized`, which payments charges like any invoice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.subscription_fee import local_date
from invoicing.invoices import generate, lifecycle, repository, service
from invoicing.invoices.issuer import issuer_of
from invoicing.invoices.models import Invoice
from invoicing.projections import repository as projections
from invora.errors import NotFound
from invora.events.contracts.wallets import PaidCreditsInvoiceRequested
from invora.ids import uuid7
from invora.money import exponent


class CreditInvoiceCustomerUnknown(NotFound):
    """The customer's projection has not arrived yet: the event is retried (then parked) by the consumer."""

    def __init__(self) -> None:
        super().__init__("customer")


async def create(session: AsyncSession, organization_id: uuid.UUID, request: PaidCreditsInvoiceRequested,
                 now: datetime) -> Invoice | None:
    """The paid credits' invoice, finalized; None when this top-up already has one."""
    customer = await projections.customer(session, organization_id, request.lago_customer_id)
    if customer is None:
        raise CreditInvoiceCustomerUnknown()
    settings = await issuer_of(session, organization_id, customer)
    net_term = customer.net_payment_term if customer.net_payment_term is not None else settings.net_payment_term
    issuing = local_date(now, customer.timezone)
    invoice = await repository.claim_keyed(session, dict(
        id=uuid7(), organization_id=organization_id, customer_id=customer.id, external_customer_id=customer.external_id,
        billing_reason="credit", invoice_type="credit", status="draft", currency=request.currency,
        issuing_date=issuing, payment_due_date=issuing + timedelta(days=net_term), net_payment_term=net_term,
        finalize_at=now, source_key=f"wallet_transaction:{request.lago_wallet_transaction_id}",
        source={"kind": "credit", "lago_wallet_id": str(request.lago_wallet_id),
                "lago_wallet_transaction_id": str(request.lago_wallet_transaction_id)},
        created_at=now, updated_at=now))
    if invoice is None:
        return None
    invoice = await service.load(session, organization_id, invoice.id)
    unit_cents = request.rate_amount.scaleb(exponent(request.currency))
    name = request.wallet_name or "Prepaid credits"
    fees = await generate.write_fees(session, invoice, [(request.amount_cents, [], dict(
        fee_type="credit", units=request.credit_amount, events_count=None, amount_cents=request.amount_cents,
        precise_amount_cents=Decimal(request.amount_cents), unit_amount_cents=int(unit_cents.to_integral_value()),
        precise_unit_amount=request.rate_amount, invoice_display_name=name, description=None,
        item={"type": "credit", "code": str(request.lago_wallet_id), "name": name,
              "invoice_display_name": name, "lago_item_id": str(request.lago_wallet_transaction_id),
              "item_type": "WalletTransaction"}))], now, compute=False)
    # Lago announces a paid-credit invoice as `invoice.paid_credit_added`; `invoice.created` follows as for any
    await lifecycle.finalize(session, invoice, now, fees=fees, extra_events=("invoice.paid_credit_added",))
    return invoice
