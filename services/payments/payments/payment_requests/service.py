"""Payment requests (Lago): a customer's unpaid invoices bundled into one amount and charged once.

Creating one (`POST /payment_requests`) locks the named invoices, checks each is the customer's,
finalized, in one currency, still owes money and has no charge under way (its own attempt or another
request's), and records the request with what it asks of each invoice (what it owes now), plus
`payment_request.created`, in one transaction. When the customer has a provider connection, one
`pending` provider payment is recorded for the request (its idempotency key written with it; a partial
unique index allows one live attempt per request) and the charger sends it like any other charge;
without one, the request waits to be paid by hand (manual payments of its invoices).

**Never twice.** Invoice locks serialize a request's creation with the invoices' own charge attempts
(`invoice.finalized`) and with other requests: while the request's charge is live, an invoice gets no
other attempt and no payment URL. Before each call the charger re-reads every invoice under lock
(`charge_check`): one voided, paid, or paid in part meanwhile cancels the charge (nothing is sent;
the request stays pending for manual payment), so the amount sent is exactly what is still owed.
A succeeded payment pays each invoice its requested amount; the request's status follows its payment
(`status.on_payment`: `payment_request.payment_status_updated`, and `payment_request.payment_failure`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.payments import PaymentRequest
from invora.ids import uuid7
from invora.service_client import ServiceClient
from invora.web.pagination import PageParams, PaginationMeta
from payments.customers import service as customers
from payments.errors import InvoiceHasLiveCharge, PaymentRequestInvalidInvoices, PaymentRequestNotFound
from payments.invoices import repository as invoices_repository
from payments.payment_providers import repository as providers_repository
from payments.payment_requests import repository
from payments.payment_requests.schemas import PaymentRequestInput
from payments.payment_requests.status import publish_request, render
from payments.payments import lifecycle
from payments.payments import repository as payments_repository


async def create(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                 data: PaymentRequestInput, *, now: datetime) -> tuple[PaymentRequest, uuid.UUID | None]:
    """The request and its charge attempt's id (None: no provider, left for manual payment). A customer the
    projection does not hold yet is asked of subscriptions (its invoices then fail as `invalid_invoice`)."""
    customer = await customers.get_or_fetch(session, subscriptions, organization_id, data.external_customer_id)
    lines: list[tuple[uuid.UUID, int]] = []
    currencies: set[str] = set()
    for invoice_id in sorted(set(data.lago_invoice_ids)):  # one lock order for every request
        invoice = await invoices_repository.by_id(session, organization_id, invoice_id, lock=True)
        if invoice is None or invoice["customer_id"] != customer["id"] or invoice["status"] != "finalized":
            raise PaymentRequestInvalidInvoices("invalid_invoice")
        due = invoice["total_amount_cents"] - await invoices_repository.paid_cents(session, invoice["id"])
        if due <= 0:
            raise PaymentRequestInvalidInvoices("invoice_already_paid")
        if await payments_repository.live_attempt(session, invoice["id"]):
            raise InvoiceHasLiveCharge()
        currencies.add(invoice["currency"])
        lines.append((invoice["id"], due))
    if len(currencies) != 1:
        raise PaymentRequestInvalidInvoices("currencies_do_not_match")
    request_id = uuid7()
    amount = sum(amount for _, amount in lines)
    currency = currencies.pop()
    await repository.insert(session, {
        "id": request_id, "organization_id": organization_id, "customer_id": customer["id"],
        "external_customer_id": customer["external_id"], "email": data.email, "amount_cents": amount,
        "currency": currency, "now": now}, lines)
    await publish_request(session, organization_id, request_id, "payment_request.created")
    attempt = await _record_attempt(session, organization_id, customer, request_id, amount, currency)
    return await get(session, organization_id, request_id), attempt


async def _record_attempt(session: AsyncSession, organization_id: uuid.UUID, customer: RowMapping,
                          request_id: uuid.UUID, amount: int, currency: str) -> uuid.UUID | None:
    code = customer["payment_provider_code"]
    provider = await providers_repository.by_code(session, organization_id, code) if code else None
    if provider is None:
        return None
    payment_id = uuid7()
    inserted = await payments_repository.insert(session, {
        "id": payment_id, "organization_id": organization_id, "payment_request_id": request_id,
        "customer_id": customer["id"], "external_customer_id": customer["external_id"], "type": "provider",
        "amount_cents": amount, "currency": currency, "payment_status": "pending", "provider_status": "pending",
        "reference": str(payment_id), "idempotency_key": f"payment-request-{request_id}-attempt-1",
        "payment_provider_id": provider.id, "payment_provider_code": provider.code,
        "payment_provider_type": provider.provider_type})
    if inserted is not None:
        await lifecycle.publish_payment(session, inserted, organization_id, "payment.created")
    return inserted


async def charge_check(session: AsyncSession, payment: RowMapping) -> tuple[int, str | None, str, dict[str, str]]:
    """For the charger, under lock: (amount, cancel reason or None, description, metadata) of a request's charge."""
    invoices = await repository.lock_invoices(session, payment["payment_request_id"])
    for invoice in invoices:
        due = invoice["total_amount_cents"] - await invoices_repository.paid_cents(session, invoice["id"])
        if invoice["status"] != "finalized" or due != invoice["requested_amount_cents"]:
            # voided, paid or paid in part meanwhile: nothing is sent, the request is left for manual payment
            return 0, "payment_request_invoices_changed", "", {}
    amount = sum(invoice["requested_amount_cents"] for invoice in invoices)
    numbers = ", ".join(invoice["number"] or str(invoice["id"]) for invoice in invoices)
    return amount, None, f"Invoices {numbers}"[:250], {"invora_payment_request_id": str(payment["payment_request_id"])}


async def get(session: AsyncSession, organization_id: uuid.UUID, request_id: uuid.UUID | None) -> PaymentRequest:
    row = await repository.by_id(session, organization_id, request_id) if request_id else None
    if row is None:
        raise PaymentRequestNotFound()
    return await render(session, row)


async def list_requests(session: AsyncSession, organization_id: uuid.UUID, *, external_customer_id: str | None,
                        customer_id: uuid.UUID | None, payment_status: str | None, currency: str | None,
                        params: PageParams) -> tuple[list[PaymentRequest], PaginationMeta]:
    rows, meta = await repository.list_page(session, organization_id, external_customer_id=external_customer_id,
                                            customer_id=customer_id, payment_status=payment_status,
                                            currency=currency, params=params)
    return [await render(session, row) for row in rows], meta
