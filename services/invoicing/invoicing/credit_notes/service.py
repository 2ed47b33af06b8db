"""Credit notes on finalized invoices (Lago's rules), their credit as a customer credit, void, estimate.

- Items name fees of the invoice with an amount taxes excluded; each fee's items over all the invoice's
  credit notes (voided ones included, as Lago) never exceed the fee's amount; taxes and the coupons'
  share are computed per fee (`amounts.compute`); the note's total, with the invoice's earlier notes,
  never exceeds the invoice's `total_amount_cents`.
- The invoice row is locked (`FOR UPDATE`) for the whole request, so two credit notes on one invoice are
  checked one after the other; the number is `<invoice number>-CN<n>`, `n` unique per invoice (a unique key).
- The credit part is a customer credit (`credits/`, `reason` `credit_note`): the customer's next
  subscription invoices consume it after taxes, oldest first. Void removes what is left (balance 0,
  `voided_at`); what invoices already consumed stays consumed.
- `credit + refund + offset = total`. The refund part is asked of payments (`credit_note.refund_requested`);
  the offset part is deducted from what the invoice still owes (at most that), and settles it when nothing
  is left: see docs/invoicing.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.totals import due_cents
from invoicing.credit_notes import amounts, repository
from invoicing.credit_notes.errors import (
    CreditNoteAlreadyVoided,
    CreditNoteNotFound,
    FeeNotFound,
    InvoiceNotCreditable,
    InvoiceNotFound,
)
from invoicing.credit_notes.models import CreditNote, CreditNoteItem, CreditNoteRefund, InvoicePayment
from invoicing.credit_notes.schemas import (
    CreditNoteInput,
    CreditNoteUpdateInput,
    EstimatedCreditNote,
    EstimatedItem,
    EstimatedTax,
    EstimateInput,
    ItemInput,
)
from invoicing.credits import repository as credits_repository
from invoicing.credits.models import CustomerCredit
from invoicing.documents import repository as documents
from invoicing.invoices import lifecycle
from invoicing.invoices import repository as invoices
from invoicing.invoices.models import Fee, Invoice
from invoicing.invoices.render import render_fee
from invoicing.projections import repository as projections
from invora import metadata as item_metadata
from invora.auth.deps import ensure_customer_access
from invora.auth.principal import Principal
from invora.documents import links
from invora.errors import ValidationFailed
from invora.events.contracts import invoicing as contract
from invora.ids import uuid7
from invora.metadata import Metadata
from invora.outbox import PendingEvent, add_events


def creditable(fee: Fee, already: int) -> amounts.CreditableFee:
    return amounts.CreditableFee(
        fee_id=fee.id, amount_cents=fee.amount_cents,
        precise_coupons_amount_cents=Decimal(fee.precise_coupons_amount_cents), already_credited_cents=already,
        taxes=tuple(amounts.FeeTax(code=t["tax_code"], name=t.get("tax_name") or t["tax_code"],
                                   rate=Decimal(str(t["tax_rate"])),
                                   lago_tax_id=str(t["lago_tax_id"]) if t.get("lago_tax_id") else None)
                    for t in fee.applied_taxes))


async def _invoice(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID, *,
                   lock: bool) -> Invoice:
    found = await (invoices.lock_invoice if lock else invoices.get_invoice)(session, organization_id, invoice_id)
    if found is None:
        raise InvoiceNotFound()
    if found.status != "finalized" or found.number is None:
        raise InvoiceNotCreditable("only a finalized invoice takes credit notes")
    if found.invoice_type == "credit":  # bought credits are in a wallet: Lago voids them with a refund (not built)
        raise InvoiceNotCreditable("an invoice of prepaid credits takes no credit note")
    return found


async def _compute(session: AsyncSession, invoice: Invoice,
                   items: Sequence[ItemInput]) -> tuple[amounts.Amounts, dict[uuid.UUID, Fee], int]:
    """The note's amounts; the invoice's fees by id; what is left of the invoice. Field errors when an item
    names another invoice's fee or asks more than its fee has left."""
    fees = {fee.id: fee for fee in await repository.fees(session, invoice.id)}
    missing = [item.fee_id for item in items if item.fee_id not in fees]
    if missing:
        raise FeeNotFound()
    credited = await repository.credited_by_fee(session, invoice.id)
    by_fee = {fee_id: creditable(fee, credited.get(fee_id, 0)) for fee_id, fee in fees.items()}
    pairs = [(item.fee_id, item.amount_cents) for item in items]
    if amounts.over_cap(by_fee, pairs):
        raise ValidationFailed(amount_cents=["higher_than_remaining_fee_amount"])
    left = invoice.total_amount_cents - await repository.credited_total(session, invoice.id)
    return amounts.compute(by_fee, pairs), fees, left


def _applied_taxes(computed: amounts.Amounts, currency: str) -> list[dict[str, Any]]:
    return [{"lago_tax_id": line.lago_tax_id, "tax_name": line.name, "tax_code": line.code,
             "tax_rate": str(line.rate), "base_amount_cents": int(line.base_amount_cents.to_integral_value()),
             "amount_cents": line.amount_cents, "amount_currency": currency} for line in computed.taxes]


def due(invoice: Invoice) -> int:
    """What the invoice still owes (Lago's `total_due_amount_cents`)."""
    return due_cents(total_cents=invoice.total_amount_cents, paid_cents=invoice.total_paid_amount_cents,
                     offset_cents=invoice.offset_amount_cents, status=invoice.status,
                     payment_status=invoice.payment_status)


async def create(session: AsyncSession, organization_id: uuid.UUID, data: CreditNoteInput,
                 now: datetime) -> CreditNote:
    invoice = await _invoice(session, organization_id, data.invoice_id, lock=True)
    computed, fees, left = await _compute(session, invoice, data.items)
    total = computed.total_amount_cents
    if total <= 0:
        raise ValidationFailed(base=["invalid_total_amount"])
    if total > left:
        raise ValidationFailed(base=["higher_than_remaining_invoice_amount"])
    refund_amount = data.refund_amount_cents or 0
    offset_amount = data.offset_amount_cents or 0
    credit_amount = amounts.split_total(total, data.credit_amount_cents, refund_amount, offset_amount)
    if credit_amount is None and data.credit_amount_cents is not None:
        raise ValidationFailed(credit_amount_cents=["does_not_match_item_amounts"])
    parts: list[tuple[uuid.UUID, int]] = []
    if refund_amount:
        refundable = await repository.refundable_by_payment(session, invoice.id)
        parts = amounts.refund_parts(refundable, refund_amount)
        if refund_amount > amounts.max_refundable(total, refundable) or not parts:
            raise ValidationFailed(refund_amount_cents=["higher_than_remaining_invoice_amount"])
    if offset_amount > amounts.max_offsettable(total, due(invoice)):
        raise ValidationFailed(offset_amount_cents=["higher_than_remaining_invoice_amount"])
    if credit_amount is None:  # refund + offset above the total
        raise ValidationFailed(credit_amount_cents=["does_not_match_item_amounts"])
    return await write(session, invoice, computed, fees, [(item.fee_id, item.amount_cents) for item in data.items],
                       credit=credit_amount, refund=refund_amount, offset=offset_amount, parts=parts,
                       reason=data.reason or "other", description=data.description, metadata=data.metadata, now=now)


async def write(session: AsyncSession, invoice: Invoice, computed: amounts.Amounts, fees: dict[uuid.UUID, Fee],
                items: list[tuple[uuid.UUID, int]], *, credit: int, refund: int, offset: int,
                parts: list[tuple[uuid.UUID, int]], reason: str, description: str | None,
                metadata: dict[str, str | None] | None, now: datetime,
                terminated_subscription_id: uuid.UUID | None = None) -> CreditNote:
    """The note, its items, its credit part (a customer credit), its events, the offset settled on the invoice and
    the refund asked of payments: once the amounts were checked, under the invoice's lock (the caller's). Shared
    by `POST /credit_notes` and the notes of terminations and upgrades (`unused.py`)."""
    organization_id = invoice.organization_id
    total = computed.total_amount_cents
    sequence = await repository.next_sequence(session, invoice.id)
    note = CreditNote(
        id=uuid7(), organization_id=organization_id, created_at=now, updated_at=now, invoice_id=invoice.id,
        customer_id=invoice.customer_id, external_customer_id=invoice.external_customer_id, sequential_id=sequence,
        number=f"{invoice.number}-CN{sequence}", issuing_date=now.date(), reason=reason,
        description=description, currency=invoice.currency,
        credit_status="available" if credit else None, refund_status="pending" if refund else None,
        total_amount_cents=total, credit_amount_cents=credit, refund_amount_cents=refund,
        offset_amount_cents=offset,
        taxes_amount_cents=computed.taxes_amount_cents, precise_taxes_amount_cents=computed.precise_taxes_amount_cents,
        taxes_rate=computed.taxes_rate,
        sub_total_excluding_taxes_amount_cents=computed.sub_total_excluding_taxes_amount_cents,
        coupons_adjustment_amount_cents=computed.coupons_adjustment_amount_cents,
        applied_taxes=_applied_taxes(computed, invoice.currency), note_metadata=item_metadata.replaced(metadata),
        terminated_subscription_id=terminated_subscription_id)
    rows = [CreditNoteItem(id=uuid7(), organization_id=organization_id, created_at=now, updated_at=now,
                           credit_note_id=note.id, fee_id=fee_id, amount_cents=amount,
                           amount_currency=fees[fee_id].amount_currency) for fee_id, amount in items]
    credit_row = None if not credit else CustomerCredit(
        id=uuid7(), organization_id=organization_id, created_at=now, updated_at=now, customer_id=invoice.customer_id,
        currency=invoice.currency, amount_cents=credit, balance_cents=credit, reason="credit_note",
        subscription_id=None, source_invoice_id=invoice.id, source_fee_id=None, credit_note_id=note.id,
        details={"credit_note_number": note.number})
    await repository.add(session, note, rows, credit_row)
    if credit_row is not None:
        credits_repository.remember_balance(session, organization_id, invoice.customer_id)
    # `credit_note.generated` follows once its document is rendered (invoicing.documents)
    await publish(session, note, "credit_note.created")
    if offset:
        await _settle(session, invoice, offset, now)
    if parts:
        await _request_refunds(session, note, invoice, parts, now)
    return note


async def _request_refunds(session: AsyncSession, note: CreditNote, invoice: Invoice,
                           parts: list[tuple[uuid.UUID, int]], now: datetime) -> None:
    """One part per payment, each asked of payments by its own `credit_note.refund_requested` whose
    idempotency key is the part's id (a redelivered request refunds that part once)."""
    rows = [CreditNoteRefund(id=uuid7(), organization_id=note.organization_id, created_at=now, updated_at=now,
                             credit_note_id=note.id, invoice_id=invoice.id, payment_id=payment_id,
                             amount_cents=amount, status="pending") for payment_id, amount in parts]
    await repository.add_refunds(session, rows)
    await add_events(session, [PendingEvent(
        type=contract.CREDIT_NOTE_REFUND_REQUESTED, organization_id=note.organization_id,
        aggregate_type="credit_note", aggregate_id=note.id, data=contract.CreditNoteRefundRequested(
            lago_credit_note_id=note.id, lago_invoice_id=invoice.id, lago_payment_id=row.payment_id,
            amount_cents=row.amount_cents, currency=invoice.currency, idempotency_key=str(row.id),
            reason=f"credit_note {note.number}: {note.reason}").model_dump(mode="json")) for row in rows])


async def _settle(session: AsyncSession, invoice: Invoice, offset_cents: int, now: datetime) -> None:
    """The offset is deducted from what the invoice owes (payments reads it from `credit_note.created`);
    an invoice that owes nothing more is paid (Lago's settlement: `payment_status` `succeeded`)."""
    invoice.offset_amount_cents += offset_cents
    invoice.updated_at = now
    if due(invoice) == 0:
        await lifecycle.set_payment_status(session, invoice, "succeeded", now)
    await session.flush()


async def estimate(session: AsyncSession, organization_id: uuid.UUID, data: EstimateInput) -> EstimatedCreditNote:
    """Lago's estimate: the amounts a note with these items would have, and what may still be credited."""
    invoice = await _invoice(session, organization_id, data.invoice_id, lock=False)
    computed, _, left = await _compute(session, invoice, data.items)
    creditable = max(min(computed.total_amount_cents, left), 0)
    refundable = amounts.max_refundable(creditable, await repository.refundable_by_payment(session, invoice.id))
    return EstimatedCreditNote(
        lago_invoice_id=invoice.id, invoice_number=invoice.number or "", currency=invoice.currency,
        taxes_amount_cents=computed.taxes_amount_cents, precise_taxes_amount_cents=computed.precise_taxes_amount_cents,
        taxes_rate=computed.taxes_rate,
        sub_total_excluding_taxes_amount_cents=computed.sub_total_excluding_taxes_amount_cents,
        max_creditable_amount_cents=creditable, max_refundable_amount_cents=refundable,
        max_offsettable_amount_cents=amounts.max_offsettable(creditable, due(invoice)),
        coupons_adjustment_amount_cents=computed.coupons_adjustment_amount_cents,
        precise_coupons_adjustment_amount_cents=computed.precise_coupons_adjustment_amount_cents,
        items=[EstimatedItem(amount_cents=item.amount_cents, lago_fee_id=item.fee_id) for item in data.items],
        applied_taxes=[EstimatedTax.model_validate(tax) for tax in _applied_taxes(computed, invoice.currency)])


async def get(session: AsyncSession, principal: Principal, note_id: uuid.UUID, *, lock: bool = False) -> CreditNote:
    note = await repository.get(session, principal.organization_id, note_id, lock=lock)
    if note is None:
        raise CreditNoteNotFound()
    ensure_customer_access(principal, note.customer_id)
    return note


async def void(session: AsyncSession, principal: Principal, note_id: uuid.UUID, now: datetime) -> CreditNote:
    """What is left of the credit is removed; what invoices consumed stays consumed (Lago)."""
    note = await get(session, principal, note_id, lock=True)
    if note.voided_at is not None or note.credit_status == "voided":
        raise CreditNoteAlreadyVoided("the credit note is already voided")
    credit = (await repository.credits_of(session, [note.id], lock=True)).get(note.id)
    if credit is not None:
        credit.balance_cents = 0
        credit.voided_at = now
        credit.updated_at = now
    note.credit_status = "voided" if note.credit_amount_cents else None
    note.voided_at = now
    note.updated_at = now
    await repository.save(session, note)
    return note


async def update(session: AsyncSession, principal: Principal, note_id: uuid.UUID, data: CreditNoteUpdateInput,
                 now: datetime) -> CreditNote:
    """Lago's `PUT`: the refund's status, for a note with a refund part (none can be made yet: 422), and
    `metadata` merged into the note's (Lago's `partial_metadata`)."""
    note = await get(session, principal, note_id, lock=True)
    if data.refund_status is not None:
        if not note.refund_amount_cents:
            raise ValidationFailed(refund_status=["no_refund_amount"])
        note.refund_status = data.refund_status
    if data.metadata is not None:
        note.note_metadata = item_metadata.merged(note.note_metadata, data.metadata)
    note.updated_at = now
    await repository.save(session, note)
    return note


async def change_metadata(session: AsyncSession, principal: Principal, note_id: uuid.UUID, now: datetime,
                          change: Callable[[Metadata | None], Metadata | None]) -> Metadata | None:
    """Lago's `/credit_notes/{id}/metadata` routes: `change` is one of `invora.metadata`'s rules (replace,
    merge, remove a key) applied to the note's metadata under its row lock, so concurrent changes all land.
    No event: Lago publishes none for a metadata change."""
    note = await get(session, principal, note_id, lock=True)
    changed = change(note.note_metadata)
    if changed != note.note_metadata:
        note.note_metadata = changed
        note.updated_at = now
        await repository.save(session, note)
    return note.note_metadata


async def render_many(session: AsyncSession, notes: Sequence[CreditNote]) -> list[contract.CreditNote]:
    ids = [note.id for note in notes]
    items = await repository.items_of(session, ids)
    credits = await repository.credits_of(session, ids)
    numbers: dict[uuid.UUID, str] = {}
    customers: dict[uuid.UUID, dict[str, Any] | None] = {}
    rendered = []
    for note in notes:
        if note.invoice_id not in numbers:
            invoice = await invoices.get_invoice(session, note.organization_id, note.invoice_id)
            numbers[note.invoice_id] = (invoice.number if invoice else None) or ""
        if note.customer_id not in customers:
            found = await projections.customer(session, note.organization_id, note.customer_id)
            customers[note.customer_id] = found.body if found else None
        credit = credits.get(note.id)
        balance = credit.balance_cents if credit is not None else 0
        status = note.credit_status
        if status == "available" and balance == 0:
            status = "consumed"
        customer = customers[note.customer_id]
        rendered.append(contract.CreditNote(
            lago_id=note.id, sequential_id=note.sequential_id, number=note.number, lago_invoice_id=note.invoice_id,
            invoice_number=numbers[note.invoice_id], issuing_date=note.issuing_date, credit_status=status,
            refund_status=note.refund_status, reason=note.reason, description=note.description, currency=note.currency,  # type: ignore[arg-type]
            total_amount_cents=note.total_amount_cents, taxes_amount_cents=note.taxes_amount_cents,
            taxes_rate=note.taxes_rate,
            sub_total_excluding_taxes_amount_cents=note.sub_total_excluding_taxes_amount_cents,
            balance_amount_cents=balance, credit_amount_cents=note.credit_amount_cents,
            refund_amount_cents=note.refund_amount_cents, offset_amount_cents=note.offset_amount_cents,
            coupons_adjustment_amount_cents=note.coupons_adjustment_amount_cents, created_at=note.created_at,
            updated_at=note.updated_at,
            items=[contract.CreditNoteItem(lago_id=item.id, amount_cents=item.amount_cents,
                                           amount_currency=item.amount_currency, fee=render_fee(fee))
                   for item, fee in items.get(note.id, [])],
            applied_taxes=[contract.CreditNoteAppliedTax.model_validate({
                **tax, "lago_id": uuid.uuid5(note.id, str(tax.get("lago_tax_id") or tax["tax_code"])),
                "lago_credit_note_id": note.id, "created_at": note.created_at}) for tax in note.applied_taxes],
            customer=contract.Customer.model_validate(customer) if customer else None, metadata=note.note_metadata))
    documented = await documents.with_documents(session, "credit_note", ids)  # Lago's `file_url`, once rendered
    for note in rendered:
        if note.lago_id in documented:
            note.file_url = links.file_url("credit_notes", note.lago_id)
    return rendered


async def publish(session: AsyncSession, note: CreditNote, *event_types: str) -> None:
    await session.flush()
    payload = contract.CreditNoteEvent(credit_note=(await render_many(session, [note]))[0]).model_dump(mode="json")
    await add_events(session, [PendingEvent(type=event_type, organization_id=note.organization_id,
                                            aggregate_type="credit_note", aggregate_id=note.id, data=payload)
                               for event_type in event_types])


async def record_payment(session: AsyncSession, invoice: Invoice, payment_id: uuid.UUID, amount_cents: int,
                         currency: str, paid_at: datetime) -> None:
    """A succeeded payment of an invoice (locked by the caller): what a credit note may refund of it, and the
    invoice's `total_paid_amount_cents` (once per payment)."""
    if amount_cents > 0 and await repository.record_payment(session, InvoicePayment(
            organization_id=invoice.organization_id, invoice_id=invoice.id, payment_id=payment_id,
            amount_cents=amount_cents, currency=currency, paid_at=paid_at)):
        invoice.total_paid_amount_cents += amount_cents


async def apply_refund_outcome(session: AsyncSession, organization_id: uuid.UUID, part_id: uuid.UUID,
                               status: str, now: datetime) -> bool:
    """`refund.succeeded|failed` of one part of a note's refund (the refund's idempotency key is the part's id):
    `pending` → the outcome, once (a redelivery or a late duplicate finds the part no longer pending). The
    note's `refund_status` follows all its parts (`amounts.refund_status`); the note turning `failed`
    publishes `credit_note.refund_failure` (once: it is no longer pending after)."""
    part = await repository.refund_part(session, organization_id, part_id)
    if part is None or part.status != "pending":
        return False
    note = await repository.get(session, organization_id, part.credit_note_id, lock=True)
    part.status = status
    part.updated_at = now
    await session.flush()
    if note is None or note.refund_status != "pending":
        return True  # set by hand (`PUT /credit_notes/{id}`) meanwhile: that answer stands
    note.refund_status = amounts.refund_status(await repository.refund_statuses(session, note.id))
    if note.refund_status == "pending":
        return True
    note.updated_at = now
    await repository.save(session, note)
    if note.refund_status == "failed":
        await publish(session, note, "credit_note.refund_failure")
    return True
