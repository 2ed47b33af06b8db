"""The invoice state machine; every path (API, consumers, scheduler) goes through it.

    draft ──finalize──► finalized ──void──► voided
      │  ▲ refresh                          (keeps its number)
      ▼  │
    failed ──retry──► draft | finalized

- finalize: coupon rows locked and consumed, amounts written, then the number: the scope's counter
  row is incremented and stays locked until this transaction commits, so a rolled-back finalization
  gives its number back (gapless) and two finalizations never share one (unique index too).
  Publishes `invoice.created` (Lago's) and `invoice.finalized` (payments charge on it).
- A customer parked by the billing check keeps its invoices in draft (finalize refuses).
None of these commits: the caller's transaction (request or consumed event) does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.numbering import customer_number, organization_number, scope
from invoicing.credits import service as credits
from invoicing.invoices import repository, service
from invoicing.invoices.errors import InvoiceAlreadyFinalized, InvoiceNotDraft, InvoiceNotFailed, InvoiceNotVoidable
from invoicing.invoices.models import Fee, Invoice
from invoicing.projections import repository as projections
from invora.errors import Conflict


class CustomerParked(Conflict):
    code = "customer_invoicing_parked"


async def finalize(session: AsyncSession, invoice: Invoice, now: datetime, *,
                   fees: list[Fee] | None = None, extra_events: tuple[str, ...] = ()) -> None:
    if invoice.status == "finalized":
        raise InvoiceAlreadyFinalized("the invoice is already finalized")
    if invoice.status not in ("draft", "pending"):
        raise InvoiceNotDraft("only a draft invoice can be finalized")
    if await repository.parked(session, invoice.organization_id, invoice.customer_id):
        raise CustomerParked("the billing check parked this customer's invoicing; resolve it first")
    if fees is None:
        fees = (await repository.fees_of(session, [invoice.id]))[invoice.id]
    await service.apply_amounts(session, invoice, fees, now, consume_coupons=True)
    settings = await repository.settings_of(session, invoice.organization_id)
    numbering_scope = scope(settings.document_numbering, invoice.customer_id)
    sequence = await repository.next_number(session, invoice.organization_id, numbering_scope)
    customer = await projections.customer(session, invoice.organization_id, invoice.customer_id)
    invoice.payment_due_date = invoice.issuing_date + timedelta(days=invoice.net_payment_term)
    if settings.document_numbering == "per_organization":
        invoice.number = organization_number(settings.document_number_prefix, invoice.issuing_date, sequence)
    else:
        slug = f"{(customer.body.get('sequential_id') if customer else 0) or 0:03d}"
        invoice.number = customer_number(settings.document_number_prefix, slug, sequence)
    invoice.sequential_id = sequence
    invoice.status = "finalized"
    invoice.finalized_at = now
    invoice.updated_at = now
    await service.publish(session, invoice, *extra_events, "invoice.created", "invoice.finalized", fees=fees,
                          customer=customer.body if customer else None)


async def void(session: AsyncSession, invoice: Invoice, now: datetime) -> None:
    if invoice.status != "finalized" or invoice.payment_status == "succeeded":
        raise InvoiceNotVoidable("only a finalized invoice that is not paid can be voided")
    invoice.status = "voided"
    invoice.voided_at = now
    await credits.give_back(session, invoice, now)  # what it took from the customer's credits returns
    invoice.updated_at = now
    await service.publish(session, invoice, "invoice.voided")


async def fail(session: AsyncSession, invoice: Invoice, error: str, now: datetime) -> None:
    invoice.status = "failed"
    invoice.error_details = [{"error_code": "invoice_generation_error", "details": {"error": error[:1000]}}]
    invoice.updated_at = now
    await service.publish(session, invoice, "invoice.generation_failed")


def ensure_draft(invoice: Invoice) -> None:
    if invoice.status != "draft":
        raise InvoiceNotDraft("only a draft invoice can be refreshed")


def ensure_failed(invoice: Invoice) -> None:
    if invoice.status != "failed":
        raise InvoiceNotFailed("only a failed invoice can be retried")


async def set_payment_status(session: AsyncSession, invoice: Invoice, payment_status: str, now: datetime) -> None:
    if invoice.payment_status == payment_status:
        return
    invoice.payment_status = payment_status
    if payment_status == "succeeded":
        invoice.payment_overdue = False
    invoice.updated_at = now
    await service.publish(session, invoice, "invoice.payment_status_updated")


async def mark_overdue(session: AsyncSession, invoice: Invoice, now: datetime) -> None:
    """Once per invoice: the flag is set in the same transaction as the event."""
    if invoice.payment_overdue:
        return
    invoice.payment_overdue = True
    invoice.updated_at = now
    await service.publish(session, invoice, "invoice.payment_overdue")
