"""One-off invoices (Lago's `POST /invoices`): add-on fees for a customer, finalized at once.

Each fee: the add-on's amount (or `unit_amount_cents`) × `units` (default 1), rounded once half-up;
taxes: the fee's `tax_codes`, else the add-on's, else the customer's, else the organization's. The
currency is the request's, else the customer's, else the first add-on's; a customer with another
currency is refused. Publishes `invoice.one_off_created` (Lago's) with `invoice.created` and
`invoice.finalized`. The operations console's manual invoices (tenants paying offline) are the same
object; their `payment_status` is set with `PUT /invoices/{id}`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.applied_coupons.errors import CustomerNotFound
from invoicing.billing.subscription_fee import local_date
from invoicing.billing.taxes import TaxRate, precedence
from invoicing.invoices import generate, lifecycle, repository, service
from invoicing.invoices.issuer import issuer_of
from invoicing.invoices.models import Invoice
from invoicing.invoices.schemas import OneOffInvoiceInput
from invoicing.projections import fresh
from invoicing.projections import repository as projections
from invora.errors import NotFound, ValidationFailed
from invora.ids import uuid7
from invora.money import exponent
from invora.service_client import ServiceClient


async def create(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                 data: OneOffInvoiceInput, now: datetime) -> Invoice:
    # a customer created a moment ago (its `customer.created` not here yet) is asked of subscriptions
    customer = await fresh.customer(session, subscriptions, organization_id, data.external_customer_id)
    if customer is None or customer.deleted_at is not None:
        raise CustomerNotFound()
    add_ons = await projections.add_ons(session, organization_id, [f.add_on_code for f in data.fees])
    missing = [f.add_on_code for f in data.fees if f.add_on_code not in add_ons]
    if missing:
        raise NotFound("add_on")
    currency = data.currency or customer.currency or add_ons[data.fees[0].add_on_code].body["amount_currency"]
    if customer.currency and currency != customer.currency:
        raise ValidationFailed(currency=["currencies_does_not_match"])
    codes = sorted({code for f in data.fees for code in f.tax_codes or []})
    known = {t.code: t for t in await projections.taxes_by_code(session, organization_id, codes)}
    if len(known) != len(codes):
        raise NotFound("tax")
    customer_taxes = await projections.taxes_by_code(session, organization_id, customer.tax_codes)
    organization_taxes = await projections.organization_taxes(session, organization_id, customer)
    lines: list[tuple[int, list[TaxRate], dict[str, Any]]] = []
    for fee in data.fees:
        add_on = add_ons[fee.add_on_code].body
        unit = fee.unit_amount_cents if fee.unit_amount_cents is not None else add_on["amount_cents"]
        units = fee.units if fee.units is not None else Decimal(1)
        precise = Decimal(unit) * units
        amount = int(precise.quantize(Decimal(1), ROUND_HALF_UP))
        own = [known[c] for c in fee.tax_codes] if fee.tax_codes else generate._rates(add_on.get("taxes"))
        taxes = list(precedence(own, [], customer_taxes, organization_taxes))
        name = fee.invoice_display_name or add_on.get("invoice_display_name") or add_on["name"]
        lines.append((amount, taxes, dict(
            fee_type="add_on", units=units, events_count=None, amount_cents=amount, precise_amount_cents=precise,
            unit_amount_cents=unit, precise_unit_amount=Decimal(unit).scaleb(-exponent(currency)),
            invoice_display_name=name, description=fee.description or add_on.get("description"),
            from_date=fee.from_datetime, to_date=fee.to_datetime,
            item={"type": "add_on", "code": add_on["code"], "name": add_on["name"], "invoice_display_name": name,
                  "lago_item_id": str(add_on["lago_id"]), "item_type": "AddOn"})))
    settings = await issuer_of(session, organization_id, customer)
    net_term = customer.net_payment_term if customer.net_payment_term is not None else settings.net_payment_term
    issuing = local_date(now, customer.timezone)
    invoice_id = await repository.insert_invoice(session, dict(
        id=uuid7(), organization_id=organization_id, customer_id=customer.id, external_customer_id=customer.external_id,
        billing_reason="one_off", invoice_type="one_off", status="draft", currency=currency, issuing_date=issuing,
        payment_due_date=issuing + timedelta(days=net_term), net_payment_term=net_term, finalize_at=now,
        source={"kind": "one_off"}, created_at=now, updated_at=now))
    invoice = await service.load(session, organization_id, invoice_id)
    fees = await generate.write_fees(session, invoice, lines, now, compute=False)
    await lifecycle.finalize(session, invoice, now, fees=fees, extra_events=("invoice.one_off_created",))
    return invoice
