"""The payment state machine: every change of a payment's status goes through here, with its event.

    pending ──► processing ──► succeeded
       │  └───► requires_action ──► succeeded | failed | canceled
       ├──────► failed ──► succeeded   (money taken after all, e.g. the customer authenticated later)
       └──────► canceled                (invoice voided or paid before the call)

`succeeded` and `canceled` are final; a late or repeated provider answer (a webhook after the charger
recorded the outcome, a replay) changes nothing and publishes nothing. Only a payment whose status
actually moves publishes `payment.succeeded|failed|requires_action`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.payments import PaymentEvent
from invora.ids import uuid7
from invora.outbox.writer import PendingEvent, add_events
from payments.events import pending, publish
from payments.payment_receipts import service as receipts
from payments.payment_requests import status as request_status
from payments.payments import repository
from payments.payments.render import render
from payments.providers.base import ChargeResult

ALLOWED: dict[str, frozenset[str]] = {
    "pending": frozenset({"processing", "requires_action", "succeeded", "failed", "canceled"}),
    "processing": frozenset({"requires_action", "succeeded", "failed", "canceled"}),
    "requires_action": frozenset({"processing", "succeeded", "failed", "canceled"}),
    "failed": frozenset({"succeeded"}),
    "succeeded": frozenset(),
    "canceled": frozenset(),
}
PUBLISHED = {"succeeded": "payment.succeeded", "failed": "payment.failed", "requires_action": "payment.requires_action"}


def can_move(current: str, target: str) -> bool:
    return target in ALLOWED[current]


async def record_attempt(session: AsyncSession, invoice: RowMapping, provider, *,
                         amount_cents: int) -> uuid.UUID | None:
    """A `pending` provider payment for the invoice, its idempotency key written with it; None if the invoice
    already has a live attempt."""
    attempt = await repository.provider_attempts(session, invoice["id"]) + 1
    payment_id = uuid7()
    inserted = await repository.insert(session, {
        "id": payment_id, "organization_id": invoice["organization_id"], "invoice_id": invoice["id"],
        "customer_id": invoice["customer_id"], "external_customer_id": invoice["external_customer_id"],
        "type": "provider", "amount_cents": amount_cents, "currency": invoice["currency"],
        "payment_status": "pending", "provider_status": "pending", "reference": str(payment_id),
        "idempotency_key": f"invoice-{invoice['id']}-attempt-{attempt}", "payment_provider_id": provider.id,
        "payment_provider_code": provider.code, "payment_provider_type": provider.provider_type,
    })
    if inserted is not None:
        await publish_payment(session, inserted, invoice["organization_id"], "payment.created")
    return inserted


async def record_attempts(session: AsyncSession, attempts: list[tuple[RowMapping, Any, int]]) -> list[uuid.UUID]:
    """`record_attempt` for several invoices (invoice, provider, amount each; distinct invoices) with a few
    statements for all: their attempt counts, the inserts, the `payment.created` events. The ids recorded, in
    the order given (an invoice that already has a live attempt is left out)."""
    if not attempts:
        return []
    counts = await repository.provider_attempts_many(session, [invoice["id"] for invoice, _, _ in attempts])
    rows = []
    for invoice, provider, amount_cents in attempts:
        payment_id = uuid7()
        rows.append({
            "id": payment_id, "organization_id": invoice["organization_id"], "invoice_id": invoice["id"],
            "customer_id": invoice["customer_id"], "external_customer_id": invoice["external_customer_id"],
            "type": "provider", "amount_cents": amount_cents, "currency": invoice["currency"],
            "payment_status": "pending", "provider_status": "pending", "reference": str(payment_id),
            "idempotency_key": f"invoice-{invoice['id']}-attempt-{counts[invoice['id']] + 1}",
            "payment_provider_id": provider.id, "payment_provider_code": provider.code,
            "payment_provider_type": provider.provider_type})
    inserted = await repository.insert_attempts(session, rows)
    recorded = [row["id"] for row in rows if row["id"] in inserted]
    payments = await repository.by_ids(session, recorded) if recorded else {}
    await add_events(session, [pending(payments[payment_id]["organization_id"], "payment.created", payment_id,
                                       PaymentEvent(payment=render(payments[payment_id]))) for payment_id in recorded])
    return recorded


@dataclass
class Deferred:
    """What a caller recording several outcomes in one transaction writes after the last one (`write_deferred`):
    each locked payment with the columns its outcome changes and the event it publishes (None: none), all
    written with one statement, their events and the successes' receipts with a few more for the whole batch."""

    outcomes: list[tuple[RowMapping, dict, str | None]] = field(default_factory=list)


async def apply_charge_result(session: AsyncSession, payment: RowMapping, result: ChargeResult,
                              now: datetime, *, deferred: Deferred | None = None) -> bool:
    """Record the provider's answer on a locked payment; True if the status moved (and an event was written, or
    left in `deferred` for the caller's `write_deferred` before its commit)."""
    target = result.status
    current = payment["payment_status"]
    values: dict = {"provider_status": result.provider_status[:50] if result.provider_status else current}
    if result.provider_payment_id and payment["provider_payment_id"] is None:
        values["provider_payment_id"] = result.provider_payment_id
    if result.payment_method_id:
        values["payment_method_id"] = result.payment_method_id
    if target == current or not can_move(current, target):
        if target == current and target == "processing":
            await _set_outcome(session, payment, values, None, deferred)
        return False
    values["payment_status"] = target
    if target == "succeeded":
        values.update(paid_at=now, paid_on=now.date(), failure_category=None, failure_code=None,
                      failure_message=None, next_action={})
    elif target == "failed":
        values.update(failure_category=result.decline_category or "soft", failure_code=result.failure_code,
                      failure_message=(result.failure_message or "")[:1000] or None)
    elif target == "requires_action":
        values["next_action"] = result.next_action or {}
    await _set_outcome(session, payment, values, PUBLISHED.get(target), deferred)
    return True


async def _set_outcome(session: AsyncSession, payment: RowMapping, values: dict, event_type: str | None,
                       deferred: Deferred | None) -> None:
    if deferred is not None:
        deferred.outcomes.append((payment, values, event_type))
        return
    await repository.set_outcome(session, payment["id"], _jsonable(values))
    if event_type is not None:
        await publish_payment(session, payment["id"], payment["organization_id"], event_type)


async def fail(session: AsyncSession, payment: RowMapping, *, category: str, code: str | None,
               message: str | None) -> bool:
    if not can_move(payment["payment_status"], "failed"):
        return False
    await repository.set_outcome(session, payment["id"], {
        "payment_status": "failed", "provider_status": "failed", "failure_category": category,
        "failure_code": code, "failure_message": (message or "")[:1000] or None})
    await publish_payment(session, payment["id"], payment["organization_id"], "payment.failed")
    return True


async def cancel(session: AsyncSession, payment: RowMapping, *, reason: str) -> bool:
    if not can_move(payment["payment_status"], "canceled"):
        return False
    await repository.set_outcome(session, payment["id"], {"payment_status": "canceled", "provider_status": "canceled",
                                                         "failure_code": reason})
    return True


async def cancel_uncalled_attempts(session: AsyncSession, invoice: RowMapping, *, reason: str) -> int:
    """An invoice voided before its charge was sent: the attempt is canceled (one already sent is left to finish;
    the charger re-reads the invoice before every call)."""
    canceled = 0
    for payment in await repository.uncalled_live(session, invoice["id"]):
        canceled += await cancel(session, payment, reason=reason)
    return canceled


def _jsonable(values: dict) -> dict:
    return {k: (json.dumps(v) if k == "next_action" and not isinstance(v, str) else v) for k, v in values.items()}


async def publish_payment(session: AsyncSession, payment_id: uuid.UUID, organization_id: uuid.UUID,
                          event_type: str) -> None:
    row = await repository.by_id(session, organization_id, payment_id)
    await publish(session, organization_id, event_type, payment_id, PaymentEvent(payment=render(row)))
    await request_status.on_payment(session, row, event_type)
    if event_type == "payment.succeeded":  # published once per payment, in the transaction of its success
        # last: the receipt takes the organization's counter row, locked until the commit, which every
        # other success of the organization waits for (see payment_receipts.service.issue)
        await receipts.issue(session, organization_id, payment_id, row)


async def write_deferred(session: AsyncSession, deferred: Deferred) -> None:
    """What `apply_charge_result(..., deferred=)` left, call it last before the commit: the outcomes (one
    statement), then the payments' events and the successes' receipts with theirs (`receipts.issue_many`: the
    events in two statements, in the order recorded, then each organization's receipts numbered by one
    statement, the last ones)."""
    if not deferred.outcomes:
        return
    rows = await repository.set_outcomes(session, [
        _jsonable({**{column: payment[column] for column in repository.OUTCOME_COLUMNS}, **values,
                   "id": payment["id"]})
        for payment, values, _ in deferred.outcomes])
    events: list[PendingEvent] = []
    succeeded: list[RowMapping] = []
    for payment, _, event_type in deferred.outcomes:
        if event_type is None:
            continue
        row = rows[payment["id"]]
        events.append(pending(payment["organization_id"], event_type, payment["id"], PaymentEvent(payment=render(row))))
        await request_status.on_payment(session, row, event_type)
        if event_type == "payment.succeeded":
            succeeded.append(row)
    await receipts.issue_many(session, succeeded, with_events=events)
