"""What the invoicing service hears from the payments service: an invoice's `payment_status`.

`payment.succeeded` → `succeeded`; `payment.failed` → `failed` (a later success wins; a failure never
overwrites a success, whatever order the events come in). Each changed invoice publishes
`invoice.payment_status_updated`; each failed provider charge of an invoice not paid publishes Lago's
`invoice.payment_failure` (with the provider's error). `payment.dispute_lost` marks the invoice
`payment_dispute_lost_at` (`invoice.payment_dispute_lost`), once, as `POST /invoices/{id}/lose_dispute`
does. One event, one transaction (platform consumer + inbox).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.credit_notes import service as credit_notes
from invoicing.invoices import lifecycle, repository
from invoicing.invoices.models import Invoice
from invora.bus.consumer import ConsumerSpec
from invora.events.contracts import invoicing as contract
from invora.events.contracts.payments import Payment, PaymentEvent
from invora.events.envelope import EventEnvelope
from invora.outbox import PendingEvent, add_events

STATUSES = {"payment.succeeded": "succeeded", "payment.failed": "failed"}
DISPUTE_LOST = "payment.dispute_lost"


async def on_payment(session: AsyncSession, event: EventEnvelope) -> None:
    payment = PaymentEvent.model_validate(event.data).payment
    ids = list(payment.invoice_ids) or ([payment.lago_payable_id] if payment.payable_type == "Invoice" else [])
    for invoice_id in ids:
        invoice = await repository.lock_invoice(session, event.organization_id, invoice_id)
        if event.type == DISPUTE_LOST:
            if invoice is not None and invoice.status == "finalized":
                await lifecycle.lose_dispute(session, invoice, event.occurred_at)
            continue
        status = STATUSES[event.type]
        if invoice is None or invoice.status not in ("finalized", "voided"):
            continue
        if status == "succeeded" and payment.payable_type == "Invoice" and len(ids) == 1:
            # what credit notes may refund of it (a payment request's payments are not refundable yet)
            await credit_notes.record_payment(session, invoice, payment.lago_id, payment.amount_cents,
                                              payment.amount_currency, payment.paid_at or event.occurred_at)
        if invoice.payment_status == "succeeded" and status == "failed":
            continue
        await lifecycle.set_payment_status(session, invoice, status, event.occurred_at)
        if status == "failed" and payment.type == "provider":
            await _publish_failure(session, invoice, payment)


async def _publish_failure(session: AsyncSession, invoice: Invoice, payment: Payment) -> None:
    failure = payment.failure
    data = contract.InvoicePaymentFailure(payment_provider_invoice_payment_error=contract.InvoicePaymentError(
        lago_invoice_id=invoice.id, lago_customer_id=payment.lago_customer_id,
        external_customer_id=payment.external_customer_id, provider_customer_id=payment.provider_customer_id,
        payment_provider=payment.payment_provider_type, payment_provider_code=payment.payment_provider_code,
        provider_error=contract.ProviderError(message=failure.message if failure else None,
                                              error_code=failure.code if failure else None)))
    await add_events(session, [PendingEvent(
        type="invoice.payment_failure", organization_id=invoice.organization_id, aggregate_type="invoice",
        aggregate_id=invoice.id, data=data.model_dump(mode="json"))])


PAYMENT_CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec(name="payment-status", topics=("invora.payment",), handler=on_payment,
                 event_types=frozenset({*STATUSES, DISPUTE_LOST})),
)
