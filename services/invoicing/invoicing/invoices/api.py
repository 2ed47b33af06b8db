"""The invoices API's use cases (called by routes; each runs in the request's one transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.invoices import generate, lifecycle, repository, service
from invoicing.invoices.models import Invoice
from invoicing.invoices.schemas import InvoiceUpdate
from invora.auth.deps import ensure_customer_access
from invora.auth.principal import Principal
from invora.errors import NotFound, ValidationFailed
from invora.events.contracts.invoicing import Invoice as InvoiceObject
from invora.ids import uuid7


async def visible(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID, *,
                  lock: bool = False) -> Invoice:
    invoice = await service.load(session, principal.organization_id, invoice_id, lock=lock)
    ensure_customer_access(principal, invoice.customer_id)
    return invoice


async def update(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID, body: InvoiceUpdate,
                 now: datetime) -> InvoiceObject:
    invoice = await visible(session, principal, invoice_id, lock=True)
    if body.metadata is not None:
        if len({m.key for m in body.metadata}) != len(body.metadata):
            raise ValidationFailed(metadata=["duplicated_key"])
        existing = {item["lago_id"]: item for item in invoice.metadata_items}
        items: list[dict[str, Any]] = []
        for entry in body.metadata:
            previous = existing.get(str(entry.id)) if entry.id else None
            items.append({"lago_id": previous["lago_id"] if previous else str(uuid7()), "key": entry.key,
                          "value": entry.value,
                          "created_at": previous["created_at"] if previous else now.isoformat()})
        invoice.metadata_items = items
        invoice.updated_at = now
    if body.payment_status is not None:
        await lifecycle.set_payment_status(session, invoice, body.payment_status, now)
    return await service.full(session, invoice)


async def finalize(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID, now: datetime) -> InvoiceObject:
    invoice = await visible(session, principal, invoice_id, lock=True)
    await lifecycle.finalize(session, invoice, now)
    return await service.full(session, invoice)


async def void(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID, now: datetime) -> InvoiceObject:
    invoice = await visible(session, principal, invoice_id, lock=True)
    await lifecycle.void(session, invoice, now)
    return await service.full(session, invoice)


async def delete(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID, now: datetime) -> InvoiceObject:
    """Lago's `DELETE /invoices/{id}`: the draft as it was, then removed (`lifecycle.delete_draft`)."""
    invoice = await visible(session, principal, invoice_id, lock=True)
    if invoice.status != "draft":
        await lifecycle.delete_draft(session, invoice, now)  # raises 405 invoice_not_draft
    rendered = await service.full(session, invoice)
    await lifecycle.delete_draft(session, invoice, now)
    return rendered


async def lose_dispute(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID,
                       now: datetime) -> InvoiceObject:
    invoice = await visible(session, principal, invoice_id, lock=True)
    await lifecycle.lose_dispute(session, invoice, now)
    return await service.full(session, invoice)


async def refresh(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID, now: datetime) -> InvoiceObject:
    invoice = await visible(session, principal, invoice_id, lock=True)
    lifecycle.ensure_draft(invoice)
    if invoice.source.get("event"):
        await generate.recompute(session, invoice, now)
    else:
        fees = (await repository.fees_of(session, [invoice.id]))[invoice.id]
        await service.apply_amounts(session, invoice, fees, now, consume_coupons=False)
    return await service.full(session, invoice)


async def retry(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID, now: datetime) -> InvoiceObject:
    invoice = await visible(session, principal, invoice_id, lock=True)
    lifecycle.ensure_failed(invoice)
    await _retry(session, invoice, now)
    return await service.full(session, invoice)


async def _retry(session: AsyncSession, invoice: Invoice, now: datetime) -> None:
    invoice.status = "draft"
    try:
        await generate.recompute(session, invoice, now)
    except generate.GENERATION_ERRORS as exc:
        await lifecycle.fail(session, invoice, repr(exc), now)
        return
    if await repository.parked(session, invoice.organization_id, invoice.customer_id):
        invoice.finalize_at = None
    elif invoice.finalize_at is None or invoice.finalize_at <= now:
        await lifecycle.finalize(session, invoice, now)


def settings_view(row: Any) -> dict[str, Any]:
    return {"document_numbering": row.document_numbering, "document_number_prefix": row.document_number_prefix,
            "invoice_grace_period": row.invoice_grace_period, "net_payment_term": row.net_payment_term,
            "finalize_zero_amount_invoice": row.finalize_zero_amount_invoice, "timezone": row.timezone,
            "default_currency": row.default_currency}


async def resolve_violation(session: AsyncSession, organization_id: uuid.UUID, violation_id: uuid.UUID,
                            now: datetime) -> Any:
    """An admin says the billing check's finding is handled: the customer's parked drafts become due."""
    found = [v for v in await repository.violations(session, organization_id) if v.id == violation_id]
    if not found:
        raise NotFound("billing_check_violation")
    violation = found[0]
    violation.resolved_at = now
    await session.flush()
    repository.forget_parked(session, organization_id, violation.customer_id)
    if not await repository.parked(session, organization_id, violation.customer_id):
        await repository.release_parked_drafts(session, organization_id, violation.customer_id, now)
    return violation


BATCH_LIMIT = 500


async def finalize_all(session: AsyncSession, organization_id: uuid.UUID, now: datetime) -> list[Invoice]:
    """Every draft of the organization (up to BATCH_LIMIT a call) finalized; a parked customer's are left."""
    done = []
    for invoice in await repository.lock_by_status(session, organization_id, "draft", BATCH_LIMIT):
        try:
            async with session.begin_nested():
                await lifecycle.finalize(session, invoice, now)
            done.append(invoice)
        except lifecycle.CustomerParked:
            continue
    return done


async def retry_all(session: AsyncSession, organization_id: uuid.UUID, now: datetime) -> list[Invoice]:
    """Every failed invoice of the organization (up to BATCH_LIMIT a call) computed again."""
    retried = []
    for invoice in await repository.lock_by_status(session, organization_id, "failed", BATCH_LIMIT):
        async with session.begin_nested():
            await _retry(session, invoice, now)
        retried.append(invoice)
    return retried
