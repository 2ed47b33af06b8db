"""The invoice state machine; every path (API, consumers, scheduler) goes through it.

    draft ──finalize──► finalized ──void──► voided
      │  ▲ refresh  │       ▲               (keeps its number; prepaid credits released)
      │  │          ▼       │ credits.applied
      ▼  │        pending ──┘  (waiting for the wallets' answer: invoicing/prepaid_credits)
    failed ──retry──► draft | pending | finalized

- finalize: coupon rows locked and consumed, amounts written; then, when the customer has an active
  wallet in the currency and something is due, `pending` and the prepaid-credits request (nothing
  numbered yet); otherwise (and once wallets answered, in the answer's transaction) the number: the
  scope's counter row is incremented and stays locked until this transaction commits, so a rolled-back
  finalization gives its number back (gapless) and two finalizations never share one (unique index too).
  Publishes `invoice.created` (Lago's) and `invoice.finalized` (payments charge on it).
- In a billing run's batch (`defer_numbering`, the period consumer) the numbers wait for the batch's end:
  each finalization writes its amounts (still a draft), and `number_deferred` then moves every scope's
  counter once for all of them, finalizes them in one statement and writes their events, right before the
  commit: a counter row is locked for the batch's last statements only, so batches of one organization on
  other partitions no longer queue behind each other's whole transaction. Same guarantees: the counters
  move in the batch's transaction (a rollback gives the numbers back) and in event order.
- A customer parked by the billing check keeps its invoices in draft (finalize refuses).
- An invoice whose fees total zero is `closed` instead (no number, no event) when the customer's
  `finalize_zero_amount_invoice` is `skip`, or `inherit` and the organization's setting is false (Lago's rule).
None of these commits: the caller's transaction (request or consumed event) does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from invoicing.billing.numbering import customer_number, organization_number, scope
from invoicing.billing.prepaid import with_prepaid_credit
from invoicing.credits import service as credits
from invoicing.invoices import repository, service
from invoicing.invoices.errors import (
    InvoiceAlreadyFinalized,
    InvoiceNotDisputable,
    InvoiceNotDraft,
    InvoiceNotFailed,
    InvoiceNotVoidable,
)
from invoicing.invoices.issuer import issuer_of
from invoicing.invoices.models import Fee, Invoice
from invoicing.prepaid_credits import service as prepaid_credits
from invoicing.projections import repository as projections
from invoicing.unit_credits import service as unit_credits
from invora.db.memo import memo
from invora.errors import Conflict
from invora.events.contracts.invoicing import BillingCheckFailed
from invora.ids import uuid7
from invora.logging import get_logger
from invora.outbox import add_event

log = get_logger(__name__)


class CustomerParked(Conflict):
    code = "customer_invoicing_parked"


async def finalize(session: AsyncSession, invoice: Invoice, now: datetime, *,
                   fees: list[Fee] | None = None, extra_events: tuple[str, ...] = ()) -> None:
    if invoice.status == "finalized":
        raise InvoiceAlreadyFinalized("the invoice is already finalized")
    if invoice.status != "draft":
        raise InvoiceNotDraft("only a draft invoice can be finalized (a pending one waits for its prepaid credits)")
    if await repository.parked(session, invoice.organization_id, invoice.customer_id):
        raise CustomerParked("the billing check parked this customer's invoicing; resolve it first")
    if fees is None:
        fees = (await repository.fees_of(session, [invoice.id]))[invoice.id]
    await service.apply_amounts(session, invoice, fees, now, consume_coupons=True)
    if await prepaid_credits.wants_credits(session, invoice):
        invoice.status = "pending"
        invoice.prepaid_credits_status = "requested"
        invoice.finalize_at = None
        invoice.updated_at = now
        await prepaid_credits.send_request(session, invoice, fees, now)
        return
    await _number(session, invoice, now, fees=fees, extra_events=extra_events)


async def settle_prepaid_credits(session: AsyncSession, invoice: Invoice, applied_cents: int, now: datetime) -> bool:
    """Wallets answered a pending invoice: its credits recorded (never above the amount due), the total due
    recomputed, then the number and `invoice.finalized`, in the answer's transaction. An answer for an
    invoice no longer waiting (a second copy) changes nothing: False."""
    if invoice.status != "pending" or invoice.prepaid_credits_status != "requested":
        log.info("prepaid_credits_answer_ignored", invoice_id=str(invoice.id), status=invoice.status,
                 prepaid_credits_status=invoice.prepaid_credits_status)
        return False
    fees = (await repository.fees_of(session, [invoice.id]))[invoice.id]
    settled = with_prepaid_credit(sub_total_including_taxes=invoice.sub_total_including_taxes_amount_cents,
                                  credit_notes=invoice.credit_notes_amount_cents, applied=applied_cents)
    if settled.prepaid_credit_amount_cents != applied_cents:
        log.error("prepaid_credits_above_amount_due", invoice_id=str(invoice.id), applied=applied_cents,
                  recorded=settled.prepaid_credit_amount_cents)
    with session.no_autoflush:  # the row is written once whole: `applied` with its number (CHECKs)
        invoice.prepaid_credit_amount_cents = settled.prepaid_credit_amount_cents
        invoice.total_amount_cents = settled.total_amount_cents
        invoice.prepaid_credits_status = "applied"
        await _number(session, invoice, now, fees=fees)
    return True


async def abandon_prepaid_credits(session: AsyncSession, invoice: Invoice, now: datetime) -> bool:
    """The compensation of a request never answered (wallets gone for longer than the abandon delay): the
    invoice is finalized without prepaid credits and a release is sent in the same transaction, so whatever
    wallets applied is given back, and a request it has not handled yet applies nothing (a release before its
    request is recorded there). A late `credits.applied` then finds the invoice final and changes nothing."""
    if invoice.status != "pending" or invoice.prepaid_credits_status != "requested":
        return False
    fees = (await repository.fees_of(session, [invoice.id]))[invoice.id]
    log.warning("prepaid_credits_abandoned", invoice_id=str(invoice.id))
    with session.no_autoflush:
        invoice.prepaid_credits_status = "release_requested"
        await prepaid_credits.send_release(session, invoice, abandoned=True)
        await _number(session, invoice, now, fees=fees)
    return True


async def _number(session: AsyncSession, invoice: Invoice, now: datetime, *, fees: list[Fee],
                  extra_events: tuple[str, ...] = ()) -> None:
    customer = await projections.customer(session, invoice.organization_id, invoice.customer_id)
    settings = await issuer_of(session, invoice.organization_id, customer)
    if invoice.fees_amount_cents == 0 and not finalizes_zero_amount(settings, customer):
        invoice.status = "closed"  # Lago's: no number, no event, nothing to pay
        invoice.finalize_at = None
        invoice.updated_at = now
        return
    numbering_scope = scope(settings.document_numbering, invoice.customer_id, settings.billing_entity_id)
    invoice.payment_due_date = invoice.issuing_date + timedelta(days=invoice.net_payment_term)
    deferred = memo(session, _DEFERRED)
    if deferred.get("on"):  # a billing run's batch: numbered with the others right before the commit
        deferred.setdefault("pending", []).append(_Pending(invoice, fees, customer, settings, numbering_scope,
                                                           extra_events, now))
        return
    sequence = await repository.next_number(session, invoice.organization_id, numbering_scope)
    invoice.number = _number_text(settings, customer, invoice, sequence)
    invoice.sequential_id = sequence
    invoice.status = "finalized"
    invoice.finalized_at = now
    invoice.updated_at = now
    await service.publish(session, invoice, *extra_events, "invoice.created", "invoice.finalized", fees=fees,
                          customer=customer.body if customer else None)


def _number_text(settings: Any, customer: Any, invoice: Invoice, sequence: int) -> str:
    if settings.document_numbering in ("per_organization", "per_billing_entity"):
        return organization_number(settings.document_number_prefix, invoice.issuing_date, sequence)
    slug = f"{(customer.body.get('sequential_id') if customer else 0) or 0:03d}"
    return customer_number(settings.document_number_prefix, slug, sequence)


_DEFERRED = "invoicing.deferred_numbering"  # {"on": bool, "pending": [_Pending]}, for the transaction


@dataclass
class _Pending:
    invoice: Invoice
    fees: list[Fee]
    customer: Any
    settings: Any
    scope: str
    extra_events: tuple[str, ...]
    now: datetime


async def defer_numbering(session: AsyncSession, on: bool) -> None:
    """From now on in this transaction, finalizations wait for `number_deferred` for their numbers (`on`),
    or are numbered at once again (those waiting are numbered first, so what follows sees them final)."""
    if not on:
        await number_deferred(session)
    memo(session, _DEFERRED)["on"] = on


async def number_deferred(session: AsyncSession) -> None:
    """Number the finalizations waiting in this transaction, in the order they were finalized: each scope's
    counter moved once (one statement for every scope), the invoices finalized in one statement, their
    `invoice.created` / `invoice.finalized` events written together. Call it right before the commit."""
    pending: list[_Pending] = memo(session, _DEFERRED).pop("pending", [])
    if not pending:
        return
    await session.flush()  # the amounts, written while a draft
    wanted: dict[tuple[uuid.UUID, str], int] = {}
    for item in pending:
        key = (item.invoice.organization_id, item.scope)
        wanted[key] = wanted.get(key, 0) + 1
    last = await repository.reserve_numbers(session, wanted)
    following = {key: last[key] - count for key, count in wanted.items()}  # the number before the first reserved
    rows = []
    for item in pending:
        key = (item.invoice.organization_id, item.scope)
        following[key] += 1
        rows.append((item.invoice.id, _number_text(item.settings, item.customer, item.invoice, following[key]),
                     following[key], item.now))
    finalized = await repository.finalize_numbered(session, rows)
    if finalized != len(rows):  # a draft changed under this transaction: never leave a number unused
        raise RuntimeError(f"{len(rows) - finalized} invoices of the batch were no longer drafts when numbered")
    for item, (_id, number, sequence, at) in zip(pending, rows, strict=True):
        for attribute, value in (("number", number), ("sequential_id", sequence), ("status", "finalized"),
                                 ("finalized_at", at), ("updated_at", at)):
            set_committed_value(item.invoice, attribute, value)  # what the statement wrote: nothing to flush
    await service.publish_many(session, [
        (item.invoice, (*item.extra_events, "invoice.created", "invoice.finalized"), item.fees,
         item.customer.body if item.customer else None) for item in pending])


def finalizes_zero_amount(settings: Any, customer: Any) -> bool:
    """The customer's `finalize_zero_amount_invoice` (`finalize` / `skip`), else the organization's."""
    choice = (customer.body.get("finalize_zero_amount_invoice") if customer else None) or "inherit"
    if choice == "inherit":
        return bool(settings.finalize_zero_amount_invoice)
    return choice == "finalize"


async def void(session: AsyncSession, invoice: Invoice, now: datetime) -> None:
    if invoice.status != "finalized" or invoice.payment_status == "succeeded":
        raise InvoiceNotVoidable("only a finalized invoice that is not paid can be voided")
    invoice.status = "voided"
    repository.forget_billed(session)  # its fees no longer count for the billing check
    invoice.voided_at = now
    await credits.give_back(session, invoice, now)  # what it took from the customer's credits returns
    invoice.updated_at = now
    await service.publish(session, invoice, "invoice.voided")
    if invoice.prepaid_credits_status == "applied" and invoice.prepaid_credit_amount_cents > 0:
        invoice.prepaid_credits_status = "release_requested"
        await prepaid_credits.send_release(session, invoice)  # wallets gives back its unit credits with them
    elif unit_credits.holds_units(invoice.source):
        # unit credits only: the same release request (wallets releases the invoice's units, once)
        await prepaid_credits.send_release(session, invoice)


async def delete_draft(session: AsyncSession, invoice: Invoice, now: datetime) -> list[uuid.UUID]:
    """Lago's `DELETE /invoices/{id}`: a draft is removed entirely (its fees, taxes and customer-credit
    applications with it); it never had a number, so numbering stays gapless. Any other status: 405.

    What it took is given back first: customer credits (as on void) and unit credits (the wallets' release).
    Lago then leaves the period unbilled; Invora's billing check makes that loud instead of silent: each
    subscription period the draft covered is recorded as a `gap` violation (`detail.deleted_draft`), which
    parks the customer (and publishes `invoice.billing_check_failed`) until an operator resolves it. The ids
    of the violations recorded."""
    if invoice.status != "draft":
        raise InvoiceNotDraft("only a draft invoice can be deleted; void a finalized one")
    fees = (await repository.fees_of(session, [invoice.id]))[invoice.id]
    await credits.give_back(session, invoice, now)
    if unit_credits.holds_units(invoice.source):
        await prepaid_credits.send_release(session, invoice)
    recorded = []
    for fee in fees:
        if fee.fee_type != "subscription" or fee.subscription_id is None or not (fee.from_date and fee.to_date):
            continue
        detail = {"deleted_draft": str(invoice.id), "billed": []}
        violation_id = await repository.record_violation(session, dict(
            id=uuid7(), organization_id=invoice.organization_id, customer_id=invoice.customer_id,
            subscription_id=fee.subscription_id, kind="gap", period_start=fee.from_date, period_end=fee.to_date,
            detail=detail))
        await add_event(session, type="invoice.billing_check_failed", organization_id=invoice.organization_id,
                        aggregate_type="invoice", aggregate_id=invoice.id, data=BillingCheckFailed(
                            lago_violation_id=violation_id, lago_customer_id=invoice.customer_id,
                            lago_subscription_id=fee.subscription_id, kind="gap", period_start=fee.from_date,
                            period_end=fee.to_date, detail=detail))
        recorded.append(violation_id)
    log.info("draft_invoice_deleted", invoice_id=str(invoice.id), violations=len(recorded))
    await repository.delete_invoice(session, invoice)
    return recorded


def prepaid_credits_released(invoice: Invoice) -> None:
    """Wallets gave the credits back (`credits.released`); a second copy changes nothing."""
    if invoice.prepaid_credits_status == "release_requested":
        invoice.prepaid_credits_status = "released"


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


async def lose_dispute(session: AsyncSession, invoice: Invoice, now: datetime) -> bool:
    """The payment's dispute was lost (Lago): `payment_dispute_lost_at` is set once, with
    `invoice.payment_dispute_lost`; asked again (the API twice, the API then payments' event) it changes
    nothing. True if it was set now."""
    if invoice.status != "finalized":
        raise InvoiceNotDisputable("only a finalized invoice's payment can be disputed")
    if invoice.payment_dispute_lost_at is not None:
        return False
    invoice.payment_dispute_lost_at = now
    invoice.updated_at = now
    await service.publish(session, invoice, "invoice.payment_dispute_lost")
    return True
