"""Refunds: a billing admin (or a credit note, by invoicing's `credit_note.refund_requested`) asks for part or
all of a payment back.

A request names the payment, an amount, a reason and an idempotency key, and is answered by events
(`refund.created`, then `refund.succeeded|failed`), so a credit note can use it unchanged. The
request is recorded (`pending`, with its audit entry) in the caller's transaction; the refunder
loop sends it to the provider outside any transaction, as the charger does for charges (the
idempotency key is the provider's too; a call that got no answer is looked up before another).
The sum of a payment's refunds that did not fail never exceeds it (checked under the payment's lock).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.events.contracts.invoicing import CreditNoteRefundRequested
from invora.events.contracts.payments import Refund, RefundEvent
from invora.ids import uuid7
from invora.logging import get_logger
from payments.errors import (
    IdempotencyKeyReused,
    PaymentNotFound,
    PaymentNotRefundable,
    RefundExceedsPayment,
    RefundNotFound,
)
from payments.events import publish
from payments.payment_providers import repository as providers_repository
from payments.payments import repository as payments_repository
from payments.providers.base import ProviderError, RefundResult
from payments.refunds import repository
from payments.refunds.schemas import AuditEntryObject, RefundInput, RefundObject

log = get_logger(__name__)


def render(row: RowMapping, audit: list[RowMapping] | None = None) -> RefundObject:
    return RefundObject(
        lago_id=row["id"], lago_payment_id=row["payment_id"], lago_invoice_id=row["invoice_id"],
        lago_customer_id=row["customer_id"], external_customer_id=row["external_customer_id"],
        amount_cents=row["amount_cents"], amount_currency=row["currency"], reason=row["reason"],
        status=row["status"], idempotency_key=row["idempotency_key"], provider_refund_id=row["provider_refund_id"],
        payment_provider_code=row["payment_provider_code"], failure_message=row["failure_message"],
        requested_by=row["requested_by"], created_at=row["created_at"],
        audit=[AuditEntryObject(action=a["action"], actor=a["actor"], detail=a["detail"],
                                created_at=a["created_at"].isoformat()) for a in audit or []])


async def get(session: AsyncSession, organization_id: uuid.UUID, refund_id: uuid.UUID | None) -> RefundObject:
    row = await repository.by_id(session, organization_id, refund_id) if refund_id else None
    if row is None:
        raise RefundNotFound()
    return render(row, await repository.audit_for(session, organization_id, row["id"]))


async def request_refund(session: AsyncSession, organization_id: uuid.UUID, payment_id: uuid.UUID | None,
                         data: RefundInput, *, actor: str | None) -> tuple[RefundObject, bool]:
    """(the refund, whether it was created now). The same key with the same request answers the first refund."""
    payment = await payments_repository.lock(session, payment_id, organization_id) if payment_id else None
    if payment is None:
        raise PaymentNotFound()
    existing = await repository.by_key(session, organization_id, data.idempotency_key)
    if existing is not None:
        same = existing["payment_id"] == payment["id"] and existing["reason"] == data.reason and (
            data.amount_cents is None or data.amount_cents == existing["amount_cents"])
        if not same:
            raise IdempotencyKeyReused("this idempotency key was used for another refund")
        return await get(session, organization_id, existing["id"]), False
    if payment["invoice_id"] is None:
        raise PaymentNotRefundable("a payment request's payment is not refundable here yet")
    if payment["payment_status"] != "succeeded":
        raise PaymentNotRefundable("only a succeeded payment can be refunded")
    refundable = payment["amount_cents"] - await repository.refunded_cents(session, payment["id"])
    amount = data.amount_cents if data.amount_cents is not None else refundable
    if amount <= 0 or amount > refundable:
        raise RefundExceedsPayment()
    refund_id = uuid7()
    manual = payment["type"] == "manual"
    await repository.insert(session, {
        "id": refund_id, "organization_id": organization_id, "payment_id": payment["id"],
        "invoice_id": payment["invoice_id"], "amount_cents": amount, "currency": payment["currency"],
        "reason": data.reason, "status": "pending", "idempotency_key": data.idempotency_key, "requested_by": actor})
    await repository.audit(session, id=uuid7(), organization_id=organization_id, actor=actor,
                           action="refund.requested", subject_type="refund", subject_id=refund_id,
                           detail={"payment_id": str(payment["id"]), "amount_cents": amount, "reason": data.reason,
                                   "refundable_before_cents": refundable})
    await _publish(session, organization_id, refund_id, "refund.created")
    if manual:  # the money went back outside any provider: recorded as done
        await finish(session, organization_id, refund_id, RefundResult(status="succeeded", provider_refund_id=None),
                      actor=actor)
    return await get(session, organization_id, refund_id), True


async def apply_provider_status(session: AsyncSession, provider_id: uuid.UUID, provider_refund_id: str, status: str,
                                now: datetime) -> str:
    refund = await repository.lock_by_provider_id(session, provider_id, provider_refund_id)
    if refund is None or refund["status"] != "pending" or status == "pending":
        return "no_change"
    await finish(session, refund["organization_id"], refund["id"],
                  RefundResult(status=status, provider_refund_id=provider_refund_id), actor="provider_webhook")
    return "applied"


async def finish(session: AsyncSession, organization_id: uuid.UUID, refund_id: uuid.UUID, result: RefundResult, *,
                  actor: str | None) -> None:
    await repository.set_outcome(session, refund_id, status=result.status, provider_refund_id=result.provider_refund_id,
                                 failure_message=result.failure_message)
    if result.status == "pending":
        return
    await repository.audit(session, id=uuid7(), organization_id=organization_id, actor=actor,
                           action=f"refund.{result.status}", subject_type="refund", subject_id=refund_id,
                           detail={"provider_refund_id": result.provider_refund_id,
                                   "failure_message": result.failure_message})
    await _publish(session, organization_id, refund_id, f"refund.{result.status}")


async def _publish(session: AsyncSession, organization_id: uuid.UUID, refund_id: uuid.UUID, event_type: str) -> None:
    row = await repository.by_id(session, organization_id, refund_id)
    rendered = render(row)
    await publish(session, organization_id, event_type, refund_id,
                  RefundEvent(refund=Refund.model_validate(rendered.model_dump(exclude={"audit"}))))


# -- the refunder: pending provider refunds, sent outside any transaction ------------------------------------

async def run_once(runtime, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    now = runtime.clock.now()
    async with sessionmaker() as session:
        lease_until = now + timedelta(seconds=runtime.settings.charger_lease_seconds)
        claimed = await repository.claim_due(session, now, lease_until, runtime.settings.charger_concurrency)
        await session.commit()
    for row in claimed:
        try:
            await refund_one(runtime, sessionmaker, row["id"], row["lease_until"])
        except Exception as exc:  # noqa: BLE001 - the lease runs out and the refund is looked up again
            log.warning("refund_failed_unexpectedly", refund_id=str(row["id"]), error=repr(exc))
    return len(claimed)


async def refund_one(runtime, sessionmaker: async_sessionmaker[AsyncSession], refund_id: uuid.UUID,
                     lease_until: datetime) -> str:
    async with sessionmaker() as session:
        refund = await repository.lock(session, refund_id)
        if refund is None or refund["status"] != "pending" or refund["lease_until"] != lease_until:
            return "lost_claim"
        payment = await payments_repository.lock(session, refund["payment_id"])
        provider = await providers_repository.by_id(session, refund["organization_id"], payment["payment_provider_id"])
        connection = provider.connection()
        await session.commit()
    adapter = runtime.adapters.for_connection(connection)
    reference = str(refund_id)
    result: RefundResult | None = None
    try:
        if refund["calls"] > 0:
            result = await adapter.find_refund(provider_payment_id=payment["provider_payment_id"], reference=reference)
        if result is None:
            async with sessionmaker() as session:
                marked = await repository.mark_called(session, refund_id, lease_until)
                await session.commit()
            if not marked:
                return "lost_claim"
            result = await adapter.refund(provider_payment_id=payment["provider_payment_id"],
                                          amount_cents=refund["amount_cents"],
                                          idempotency_key=refund["idempotency_key"], reason=refund["reason"],
                                          reference=reference, currency=payment["currency"])
    except ProviderError as exc:
        async with sessionmaker() as session:
            await repository.release(session, refund_id, lease_until,
                                     runtime.clock.now() + timedelta(seconds=runtime.settings.charger_backoff_seconds))
            await session.commit()
        log.info("refund_deferred", refund_id=str(refund_id), error=repr(exc))
        return "retry"
    async with sessionmaker() as session:
        locked = await repository.lock(session, refund_id)
        if locked["status"] == "pending":
            await finish(session, refund["organization_id"], refund_id, result, actor="refunder")
            if result.status == "pending":  # the provider's webhook finishes it
                await repository.set_outcome(session, refund_id, status="pending",
                                             provider_refund_id=result.provider_refund_id, failure_message=None)
        await session.commit()
    return result.status


# -- credit notes' refunds (invoicing's `credit_note.refund_requested`) ---------------------------------------

async def request_for_credit_note(session: AsyncSession, organization_id: uuid.UUID,
                                  request: CreditNoteRefundRequested) -> bool:
    """The same refund as the API's, keyed by the request's idempotency key (the part of the note's refund;
    the note's id for older requests), so a redelivery answers the first refund.
    A request payments must refuse (the payment is no longer refundable, or refunded meanwhile by hand) is
    recorded as a failed refund, so `refund.failed` tells invoicing; a payment payments does not know is logged.
    Whether a refund was created now."""
    data = RefundInput(amount_cents=request.amount_cents, reason=request.reason,
                       idempotency_key=request.idempotency_key or str(request.lago_credit_note_id))
    try:
        _, created = await request_refund(session, organization_id, request.lago_payment_id, data,
                                          actor="credit_note")
        return created
    except PaymentNotFound:
        log.warning("credit_note_refund_unknown_payment", credit_note_id=str(request.lago_credit_note_id),
                    payment_id=str(request.lago_payment_id))
        return False
    except (PaymentNotRefundable, RefundExceedsPayment, IdempotencyKeyReused) as exc:
        payment = await payments_repository.lock(session, request.lago_payment_id, organization_id)
        if await repository.by_key(session, organization_id, data.idempotency_key) is not None:
            return False
        refund_id = uuid7()
        await repository.insert(session, {
            "id": refund_id, "organization_id": organization_id, "payment_id": payment["id"],
            "invoice_id": payment["invoice_id"] or request.lago_invoice_id, "amount_cents": request.amount_cents,
            "currency": payment["currency"], "reason": data.reason, "status": "pending",
            "idempotency_key": data.idempotency_key, "requested_by": "credit_note"})
        await finish(session, organization_id, refund_id,
                      RefundResult(status="failed", provider_refund_id=None, failure_message=exc.message),
                      actor="credit_note")
        return True
