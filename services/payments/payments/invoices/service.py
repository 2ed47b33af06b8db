"""The invoices payments knows, and what `invoice.finalized` starts: one charge attempt per invoice.

The consumer only *records* the attempt (a `pending` payment, its idempotency key, its provider) in the
event's transaction; the charger calls the provider later, outside any transaction
(`payments/payments/charger.py`). A redelivered event is stopped by the inbox; a second
`invoice.finalized` for the same invoice (a replay, a re-publish) by the partial unique index on live
attempts and by the amount still due.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.invoicing import CreditNoteEvent, InvoiceEvent
from invora.events.envelope import EventEnvelope
from invora.logging import get_logger
from payments.customers import repository as customers_repository
from payments.customers import service as customers
from payments.errors import InvoiceNotFound
from payments.invoices import repository
from payments.payment_providers import repository as providers_repository
from payments.payments import lifecycle
from payments.payments import repository as payments_repository

log = get_logger(__name__)


async def apply_event(session: AsyncSession, envelope: EventEnvelope) -> uuid.UUID | None:
    """Project the invoice; on `invoice.finalized` with an amount due, record a charge attempt (its id)."""
    invoice = InvoiceEvent.model_validate(envelope.data).invoice
    organization_id = envelope.organization_id
    if invoice.customer is None:  # invoicing embeds the customer; without it the invoice cannot be charged
        log.warning("invoice_without_customer", invoice_id=str(invoice.lago_id), type=envelope.type)
        return None
    await customers.remember(session, organization_id, invoice.customer)
    await repository.upsert(session, {
        "id": invoice.lago_id, "org": organization_id, "customer_id": invoice.customer.lago_id,
        "external_customer_id": invoice.customer.external_id, "number": invoice.number or None,
        "currency": invoice.currency, "total": invoice.total_amount_cents, "status": invoice.status,
        "sequence": envelope.sequence})
    row = await repository.by_id(session, organization_id, invoice.lago_id, lock=True)
    if row is None:  # another organization's invoice with this id: never touched
        return None
    if envelope.type == "invoice.voided":
        await lifecycle.cancel_uncalled_attempts(session, row, reason="invoice_voided")
        return None
    if envelope.type != "invoice.finalized" or row["status"] != "finalized" or invoice.payment_status == "succeeded":
        return None
    return await schedule_charge(session, row)


async def apply_events(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> list[uuid.UUID]:
    """`apply_event` for a consumed batch in the caller's transaction, with the outcome of one at a time in
    order: each run of `invoice.finalized` events of distinct invoices is recorded with a few statements for
    the whole run (`_finalize_many`), anything else (a void; a second event of an invoice already in the
    run, which starts a new run) one at a time in its place. The attempts recorded."""
    recorded: list[uuid.UUID] = []
    run: list[EventEnvelope] = []
    for envelope in envelopes:
        if run and (envelope.type != "invoice.finalized"
                    or any(other.aggregate_id == envelope.aggregate_id for other in run)):
            recorded += await _finalize_many(session, run)
            run = []
        if envelope.type == "invoice.finalized":
            run.append(envelope)
        elif (payment_id := await apply_event(session, envelope)) is not None:
            recorded.append(payment_id)
    if run:
        recorded += await _finalize_many(session, run)
    return recorded


async def _finalize_many(session: AsyncSession, envelopes: list[EventEnvelope]) -> list[uuid.UUID]:
    """`apply_event` for `invoice.finalized` events of distinct invoices: the same checks and writes, each kind
    in one statement for all of them."""
    events = []
    for envelope in envelopes:
        invoice = InvoiceEvent.model_validate(envelope.data).invoice
        if invoice.customer is None:
            log.warning("invoice_without_customer", invoice_id=str(invoice.lago_id), type=envelope.type)
            continue
        events.append((envelope, invoice))
    if not events:
        return []
    await customers.remember_many(session, [(envelope.organization_id, invoice.customer)
                                            for envelope, invoice in events])
    await repository.upsert_many(session, [{
        "id": invoice.lago_id, "org": envelope.organization_id, "customer_id": invoice.customer.lago_id,
        "external_customer_id": invoice.customer.external_id, "number": invoice.number or None,
        "currency": invoice.currency, "total": invoice.total_amount_cents, "status": invoice.status,
        "sequence": envelope.sequence} for envelope, invoice in events])
    rows = await repository.lock_many(session, [invoice.lago_id for _, invoice in events])
    payable = []
    for envelope, invoice in events:
        row = rows.get(invoice.lago_id)
        if row is None or row["organization_id"] != envelope.organization_id:  # another organization's invoice
            continue
        if row["status"] == "finalized" and invoice.payment_status != "succeeded":
            payable.append(row)
    return await schedule_charges(session, payable)


async def apply_credit_note(session: AsyncSession, envelope: EventEnvelope) -> bool:
    """`credit_note.created` with an offset part: deducted from what the invoice owes (once per note). An
    invoice that owes nothing more has its uncalled charge canceled; a smaller amount due is what the charger
    asks next (it re-reads the amount before every call). Whether an offset was recorded."""
    note = CreditNoteEvent.model_validate(envelope.data).credit_note
    if note.offset_amount_cents <= 0 or not await repository.record_offset(
            session, envelope.organization_id, note.lago_invoice_id, note.lago_id, note.offset_amount_cents):
        return False
    row = await repository.by_id(session, envelope.organization_id, note.lago_invoice_id, lock=True)
    if row is not None and row["total_amount_cents"] - await repository.paid_cents(session, row["id"]) <= 0:
        await lifecycle.cancel_uncalled_attempts(session, row, reason="invoice_settled")
    return True


async def schedule_charge(session: AsyncSession, invoice: RowMapping) -> uuid.UUID | None:
    """A `pending` provider payment for what the invoice still owes, if its customer has a provider."""
    due = invoice["total_amount_cents"] - await repository.paid_cents(session, invoice["id"])
    if due <= 0 or await payments_repository.live_attempt(session, invoice["id"]):
        return None  # paid, or a charge of it (its own, a payment request's) under way
    customer = await customers_repository.by_id(session, invoice["organization_id"], invoice["customer_id"])
    code = customer["payment_provider_code"] if customer else None
    if not code:
        log.info("invoice_not_charged_no_provider", invoice_id=str(invoice["id"]))
        return None
    provider = await providers_repository.by_code(session, invoice["organization_id"], code)
    if provider is None:
        log.warning("invoice_not_charged_unknown_provider", invoice_id=str(invoice["id"]), code=code)
        return None
    return await lifecycle.record_attempt(session, invoice, provider, amount_cents=due)


async def schedule_charges(session: AsyncSession, invoices: list[RowMapping]) -> list[uuid.UUID]:
    """`schedule_charge` for several invoices (distinct), each check in one statement for all of them."""
    if not invoices:
        return []
    ids = [invoice["id"] for invoice in invoices]
    paid = await repository.paid_cents_many(session, ids)
    live = await payments_repository.live_attempts(session, ids)
    due = [(invoice, invoice["total_amount_cents"] - paid[invoice["id"]]) for invoice in invoices]
    due = [(invoice, amount) for invoice, amount in due if amount > 0 and invoice["id"] not in live]
    known = await customers_repository.by_ids(session, {(invoice["organization_id"], invoice["customer_id"])
                                                        for invoice, _ in due})
    providers: dict[tuple[uuid.UUID, str], Any] = {}
    attempts = []
    for invoice, amount in due:
        customer = known.get((invoice["organization_id"], invoice["customer_id"]))
        code = customer["payment_provider_code"] if customer else None
        if not code:
            log.info("invoice_not_charged_no_provider", invoice_id=str(invoice["id"]))
            continue
        if (invoice["organization_id"], code) not in providers:
            providers[(invoice["organization_id"], code)] = await providers_repository.by_code(
                session, invoice["organization_id"], code)
        provider = providers[(invoice["organization_id"], code)]
        if provider is None:
            log.warning("invoice_not_charged_unknown_provider", invoice_id=str(invoice["id"]), code=code)
            continue
        attempts.append((invoice, provider, amount))
    return await lifecycle.record_attempts(session, attempts)


async def get(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID | None, *,
              lock: bool = False) -> RowMapping:
    row = await repository.by_id(session, organization_id, invoice_id, lock=lock) if invoice_id else None
    if row is None:
        raise InvoiceNotFound()
    return row
