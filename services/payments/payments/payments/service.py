"""Manual payments (a wire, a cheque) and reads of payments.

A manual payment is recorded `succeeded` at once and publishes `payment.succeeded`; it may be partial,
and it may never exceed what the invoice still owes (checked under the invoice's lock, so two
concurrent payments cannot both pass).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import ValidationFailed
from invora.events.contracts.payments import Payment
from invora.ids import uuid7
from invora.web.pagination import PageParams, PaginationMeta
from payments.customers import repository as customers_repository
from payments.errors import (
    InvoiceHasLiveCharge,
    InvoiceNotPayable,
    NoLinkedPaymentProvider,
    PaymentAmountExceedsDue,
    PaymentNotFound,
)
from payments.invoices import repository as invoices_repository
from payments.invoices import service as invoices
from payments.payment_providers import repository as providers_repository
from payments.payment_requests import status as request_status
from payments.payments import lifecycle, repository
from payments.payments.render import render
from payments.payments.schemas import ManualPaymentInput


async def create_manual(session: AsyncSession, organization_id: uuid.UUID, data: ManualPaymentInput, *,
                        now: datetime) -> Payment:
    invoice = await invoices.get(session, organization_id, data.invoice_id, lock=True)
    if invoice["status"] != "finalized":
        raise InvoiceNotPayable("only a finalized invoice can be paid")
    due = invoice["total_amount_cents"] - await invoices_repository.paid_cents(session, invoice["id"])
    if data.amount_cents > due:
        raise PaymentAmountExceedsDue()
    payment_id = uuid7()
    paid_on = data.paid_at or now.date()
    await repository.insert(session, {
        "id": payment_id, "organization_id": organization_id, "invoice_id": invoice["id"],
        "customer_id": invoice["customer_id"], "external_customer_id": invoice["external_customer_id"],
        "type": "manual", "amount_cents": data.amount_cents, "currency": invoice["currency"],
        "payment_status": "succeeded", "provider_status": "succeeded", "reference": data.reference,
        "idempotency_key": f"manual-{payment_id}", "paid_on": paid_on,
        "paid_at": datetime.combine(paid_on, time(), UTC) if data.paid_at else now, "created_at": now,
        "updated_at": now})
    if data.amount_cents == due:  # paid in full: an attempt not yet sent is not sent
        await lifecycle.cancel_uncalled_attempts(session, invoice, reason="invoice_paid")
    await lifecycle.publish_payment(session, payment_id, organization_id, "payment.succeeded")
    if data.amount_cents == due:  # a payment request left for manual payment may be paid now
        await request_status.on_invoice_paid(session, invoice["id"])
    return await get(session, organization_id, payment_id)


async def get(session: AsyncSession, organization_id: uuid.UUID, payment_id: uuid.UUID | None) -> Payment:
    row = await repository.by_id(session, organization_id, payment_id) if payment_id else None
    if row is None:
        raise PaymentNotFound()
    return render(row)


async def list_payments(session: AsyncSession, organization_id: uuid.UUID, *, external_customer_id: str | None,
                        invoice_id: uuid.UUID | None, params: PageParams,
                        customer_id: uuid.UUID | None = None) -> tuple[list[Payment], PaginationMeta]:
    rows, meta = await repository.list_page(session, organization_id, external_customer_id=external_customer_id,
                                            customer_id=customer_id, invoice_id=invoice_id, params=params)
    return [render(row) for row in rows], meta


async def retry_payment(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID | None,
                        payment_method_id: str | None) -> Payment:
    """Lago's `retry_payment`: a new charge attempt for what a finalized invoice still owes, sent by the charger like
    the first (never while another charge of it is under way: one live attempt per invoice)."""
    if payment_method_id:
        raise ValidationFailed(payment_method=["not_supported"])
    invoice = await invoices.get(session, organization_id, invoice_id, lock=True)
    due = invoice["total_amount_cents"] - await invoices_repository.paid_cents(session, invoice["id"])
    if invoice["status"] != "finalized" or due <= 0:
        raise InvoiceNotPayable("only a finalized invoice that still owes money can be charged again")
    if await repository.live_attempt(session, invoice["id"]):
        raise InvoiceHasLiveCharge()
    customer = await customers_repository.by_id(session, organization_id, invoice["customer_id"])
    if customer is None or not customer["payment_provider_code"] or await providers_repository.by_code(
            session, organization_id, customer["payment_provider_code"]) is None:
        raise NoLinkedPaymentProvider()
    payment_id = await invoices.schedule_charge(session, invoice)
    if payment_id is None:  # a concurrent attempt won the partial unique index
        raise InvoiceHasLiveCharge()
    return await get(session, organization_id, payment_id)
