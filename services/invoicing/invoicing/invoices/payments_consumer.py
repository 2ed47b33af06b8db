"""What the invoicing service hears from the payments service: an invoice's `payment_status`.

`payment.succeeded` → `succeeded`; `payment.failed` → `failed` (a later success wins; a failure never
overwrites a success, whatever order the events come in). Each changed invoice publishes
`invoice.payment_status_updated`. `payment.dispute_lost` marks the invoice `payment_dispute_lost_at`
(`invoice.payment_dispute_lost`), once, as `POST /invoices/{id}/lose_dispute` does. One event, one
transaction (platform consumer + inbox).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.credit_notes import service as credit_notes
from invoicing.invoices import lifecycle, repository
from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.payments import PaymentEvent
from invora.events.envelope import EventEnvelope

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


PAYMENT_CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec(name="payment-status", topics=("invora.payment",), handler=on_payment,
                 event_types=frozenset({*STATUSES, DISPUTE_LOST})),
)
