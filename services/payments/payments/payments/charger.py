"""The charger: sends pending charges to their provider, exactly once per attempt.

Runs in every process safely. A pass claims due attempts (`FOR UPDATE SKIP LOCKED`, a lease per
claim) and handles each outside any transaction:

1. re-read the payment and its invoice under lock: an invoice voided or already paid cancels the
   attempt; a partial manual payment lowers the amount;
2. an attempt that was called before (`calls > 0`: a crash, a timeout) is first looked up at the
   provider by our reference; if found, its outcome is recorded and nothing is sent;
3. `calls + 1` is committed while the lease is still ours, and only then is the provider called,
   with the attempt's idempotency key (written when the attempt was recorded);
4. the answer is recorded through `lifecycle` (a webhook that recorded it first wins; the later
   one changes nothing). No answer: the lease is released with a backoff, and step 2 reconciles.

The lease outlives a provider call (settings check it), so a second claimer never reconciles while
the first call is still in flight.

The usual first attempt (never called, one invoice, customer known at the provider) goes through steps 1
and 3 in its claim's transaction, the whole claim at once (`first_attempts`), and answers are recorded
several to a transaction (`outcomes`): the same checks and writes, fewer round trips and commits. A pass
claims only as many attempts as it has free call slots (`claims.run_claimed`), so a claimed attempt is
called at once, and of each provider connection only while fewer than its `PROVIDER_CONCURRENCY` of its
attempts are leased (in flight) in any process (`repository.claim_due`).
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora import background
from invora.logging import get_logger
from payments import claims
from payments.customers import repository as customers_repository
from payments.customers import service as customers
from payments.invoices import repository as invoices_repository
from payments.payment_providers import repository as providers_repository
from payments.payment_requests import service as payment_requests
from payments.payments import first_attempts, lifecycle, outcomes, reconciler, repository
from payments.providers.base import ChargeRequest, ChargeResult, ProviderError
from payments.providers.declines import categorize
from payments.refunds import reconciler as refund_reconciler
from payments.refunds import service as refunds
from payments.runtime import PaymentsRuntime

log = get_logger(__name__)
Record = Callable[[uuid.UUID, ChargeResult], Awaitable[None]]


async def run_once(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """One pass: claim due attempts and handle them (bounded concurrency); the number claimed."""
    # a call slot is free again once its answer is handed to the recorder; the pass ends once all are recorded
    recorder = outcomes.Recorder(sessionmaker, runtime.clock,
                                 backlog=max(outcomes.MAX_BATCH, runtime.settings.charger_concurrency))
    try:
        # each connection's calls in flight are bounded across processes by the claim (`PROVIDER_CONCURRENCY`),
        # this process's by its call slots (`CHARGER_CONCURRENCY`)
        claim = functools.partial(first_attempts.claim, provider_limits=runtime.settings.provider_limits())
        return await claims.run_claimed(
            runtime, sessionmaker, claim, lambda item: _handle(runtime, sessionmaker, item, recorder),
            failure_event="charge_failed_unexpectedly", id_field="payment_id", item_id=first_attempts.payment_id)
    finally:
        await recorder.flush()


async def _handle(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession],
                  item: first_attempts.Claimed, recorder: outcomes.Recorder) -> str:
    if isinstance(item, first_attempts.Canceled):
        return "canceled"
    if isinstance(item, first_attempts.Taken):
        payment = item.payment
        return await _call(runtime, sessionmaker, payment, payment["id"], item.lease_until,
                           runtime.adapters.for_connection(item.connection), item.amount_cents,
                           item.provider_customer_id, item.description, item.metadata, record=recorder.submit)
    return await charge_one(runtime, sessionmaker, item["id"], item["lease_until"], record=recorder.submit)


async def charge_one(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession], payment_id,
                     lease_until: datetime, *, record: Record | None = None) -> str:
    """Handle one claimed attempt; returns what happened (for logs and tests). `record`: how the provider's
    answer is recorded (default: in a transaction of its own)."""
    async with sessionmaker() as session:
        payment = await repository.lock(session, payment_id)
        if payment is None or payment["payment_status"] != "pending" or payment["lease_until"] != lease_until:
            return "lost_claim"
        organization_id = payment["organization_id"]
        if payment["payment_request_id"] is not None:  # a payment request: all of its invoices, re-read
            due, cancel_reason, description, metadata = await payment_requests.charge_check(session, payment)
        else:
            invoice = await invoices_repository.by_id(session, organization_id, payment["invoice_id"], lock=True)
            due = invoice["total_amount_cents"] - await invoices_repository.paid_cents(session, invoice["id"])
            cancel_reason = None if invoice["status"] == "finalized" and due > 0 else (
                "invoice_not_payable" if due > 0 else "invoice_paid")
            description = f"Invoice {invoice['number'] or invoice['id']}"
            metadata = {"invora_invoice_id": str(invoice["id"])}
        if cancel_reason is not None:
            await lifecycle.cancel(session, payment, reason=cancel_reason)
            await session.commit()
            return "canceled"
        provider = await providers_repository.by_id(session, organization_id, payment["payment_provider_id"])
        connection = provider.connection()
        customer = await customers_repository.by_id(session, organization_id, payment["customer_id"])
        # The usual first attempt (never called, the customer already known at the provider) takes the
        # call (`calls + 1`, step 3) in this same transaction: one commit before the provider call
        # instead of three. Anything else goes the long way below.
        marked_now = None
        if payment["calls"] == 0:
            link = None if payment["provider_customer_id"] else await customers_repository.link(
                session, payment["customer_id"], payment["payment_provider_id"])
            known = payment["provider_customer_id"] or (link["provider_customer_id"] if link else None)
            if known:
                amount = min(payment["amount_cents"], due)
                if not await repository.mark_called(session, payment_id, lease_until, amount_cents=amount,
                                                    provider_customer_id=known):
                    return "lost_claim"
                marked_now = known
        await session.commit()  # the re-read ends here: no lock is held during provider calls
    adapter = runtime.adapters.for_connection(connection)
    now = runtime.clock.now()
    if marked_now is not None:
        return await _call(runtime, sessionmaker, payment, payment_id, lease_until, adapter,
                           amount, marked_now, description, metadata, record=record)

    if payment["calls"] > 0:
        try:
            found = await adapter.find_charge(reference=payment["reference"],
                                              provider_payment_id=payment["provider_payment_id"])
        except ProviderError as exc:
            await _release(sessionmaker, payment, lease_until, now, runtime, exc)
            return "lookup_failed"
        if found is not None:
            await _record(sessionmaker, payment_id, found, now)
            return f"reconciled:{found.status}"

    try:
        provider_customer_id = payment["provider_customer_id"] or await customers.ensure_provider_customer(
            sessionmaker, adapter, customer, connection)
    except ProviderError as exc:
        if exc.retryable:
            await _release(sessionmaker, payment, lease_until, now, runtime, exc)
            return "customer_retry"
        async with sessionmaker() as session:
            locked = await repository.lock(session, payment_id)
            await lifecycle.fail(session, locked, category="hard", code=exc.code or "provider_customer_error",
                                 message=exc.message)
            await session.commit()
        return "customer_failed"

    amount = min(payment["amount_cents"], due)
    async with sessionmaker() as session:
        marked = await repository.mark_called(session, payment_id, lease_until, amount_cents=amount,
                                              provider_customer_id=provider_customer_id)
        await session.commit()
    if not marked:
        return "lost_claim"
    return await _call(runtime, sessionmaker, payment, payment_id, lease_until, adapter, amount,
                       provider_customer_id, description, metadata, record=record)


async def _call(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession], payment,
                payment_id, lease_until: datetime, adapter, amount: int, provider_customer_id: str,
                description: str, metadata: dict[str, str], *, record: Record | None = None) -> str:
    """The provider call of an attempt whose `calls + 1` is committed, and its outcome recorded."""
    request = ChargeRequest(reference=payment["reference"], idempotency_key=payment["idempotency_key"],
                            amount_cents=amount, currency=payment["currency"],
                            provider_customer_id=provider_customer_id,
                            description=description, metadata=metadata)
    try:
        result = await adapter.charge(request)
    except ProviderError as exc:
        if exc.retryable:
            await _release(sessionmaker, payment, lease_until, runtime.clock.now(), runtime, exc)
            return "retry"
        result = ChargeResult(status="failed", provider_payment_id=None, provider_status="error",
                              amount_cents=amount, decline_category=categorize(exc.code), failure_code=exc.code,
                              failure_message=exc.message)
    if record is not None:
        await record(payment_id, result)
    else:
        await outcomes.record_one(sessionmaker, payment_id, result, runtime.clock)
    return result.status


async def _record(sessionmaker: async_sessionmaker[AsyncSession], payment_id, result: ChargeResult,
                  now: datetime) -> None:
    async with sessionmaker() as session:
        payment = await repository.lock(session, payment_id)
        await lifecycle.apply_charge_result(session, payment, result, now)
        await session.commit()


async def _release(sessionmaker, payment, lease_until: datetime, now: datetime, runtime: PaymentsRuntime,
                   exc: Exception) -> None:
    backoff = claims.backoff_seconds(runtime.settings.charger_backoff_seconds, payment["calls"])
    log.info("charge_deferred", payment_id=str(payment["id"]), error=repr(exc), retry_in=backoff)
    async with sessionmaker() as session:
        await repository.release(session, payment["id"], lease_until, now + timedelta(seconds=backoff))
        await session.commit()


async def _close_adapters(runtime: PaymentsRuntime) -> None:
    """The providers' HTTP sessions (the API uses them too), closed at shutdown."""
    close = getattr(runtime.adapters, "aclose", None)  # a test's own factory may have none
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


def charger_lifespan(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        runtime: PaymentsRuntime = app.state.runtime
        if not runtime.settings.charger_enabled:
            try:
                yield
            finally:
                await _close_adapters(runtime)
            return

        def database() -> async_sessionmaker[AsyncSession]:
            return app.state.database.sessionmaker

        async def reconcile() -> None:  # what it settles does not make the next round start at once
            await reconciler.run_once(runtime, database())
            await refund_reconciler.run_once(runtime, database())

        # charges and refunds run again at once while they find work
        passes = {"charger_pass": lambda: run_once(runtime, database()),
                  "refund_pass": lambda: refunds.run_once(runtime, database()),
                  "reconciler_pass": reconcile}
        try:
            async with background.repeat("payments-charger", passes, runtime.settings.charger_interval_seconds,
                                         wakeup=runtime.charger_wakeup, again_when_busy=True):
                yield
        finally:
            await _close_adapters(runtime)

    return lifespan()
