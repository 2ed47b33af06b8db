"""A payment request follows its payment: `lifecycle.publish_payment` calls `on_payment` in the transaction of
every published payment event, so the request's status and events move with the payment, once."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.payments import PaymentRequest, PaymentRequestCustomer, PaymentRequestEvent
from invora.events.contracts.payments import PaymentRequestInvoice as InvoiceLine
from payments.events import publish
from payments.invoices import repository as invoices_repository
from payments.payment_requests import repository

STATUS_OF = {"payment.succeeded": "succeeded", "payment.failed": "failed"}


async def render(session: AsyncSession, row: RowMapping) -> PaymentRequest:
    lines = await repository.lines(session, row["id"])
    return PaymentRequest(
        lago_id=row["id"], email=row["email"], amount_cents=row["amount_cents"], amount_currency=row["currency"],
        payment_status=row["payment_status"], created_at=row["created_at"],
        customer=PaymentRequestCustomer(lago_id=row["customer_id"], external_id=row["external_customer_id"],
                                        name=row["customer_name"], email=row["customer_email"],
                                        currency=row["customer_currency"]),
        invoices=[InvoiceLine(lago_id=line["invoice_id"], number=line["number"], status=line["status"],
                              currency=line["currency"], total_amount_cents=line["total_amount_cents"],
                              requested_amount_cents=line["requested_amount_cents"]) for line in lines])


async def publish_request(session: AsyncSession, organization_id: uuid.UUID, request_id: uuid.UUID,
                          event_type: str) -> None:
    row = await repository.by_id(session, organization_id, request_id)
    await publish(session, organization_id, event_type, request_id,
                  PaymentRequestEvent(payment_request=await render(session, row)))


async def on_payment(session: AsyncSession, payment: RowMapping, event_type: str) -> None:
    status = STATUS_OF.get(event_type)
    if status is None or payment["payment_request_id"] is None:
        return
    request = await repository.lock(session, payment["payment_request_id"])
    if request is None or request["payment_status"] == status or request["payment_status"] == "succeeded":
        return
    await repository.set_status(session, request["id"], status)
    await publish_request(session, request["organization_id"], request["id"],
                          "payment_request.payment_status_updated")
    if status == "failed":
        await publish_request(session, request["organization_id"], request["id"], "payment_request.payment_failure")


async def on_invoice_paid(session: AsyncSession, invoice_id: uuid.UUID) -> None:
    """A request left for manual payment is paid once every one of its invoices is paid (by hand, on a page):
    `succeeded` with `payment_request.payment_status_updated`, once."""
    for request in await repository.open_with_invoice(session, invoice_id):
        for other in await repository.invoice_ids(session, request["id"]):
            invoice = await invoices_repository.by_id(session, request["organization_id"], other)
            if invoice is None or invoice["total_amount_cents"] > await invoices_repository.paid_cents(session,
                                                                                                          other):
                break
        else:
            await repository.set_status(session, request["id"], "succeeded")
            await publish_request(session, request["organization_id"], request["id"],
                                  "payment_request.payment_status_updated")
