"""The top-up charger: sends recorded top-up charges to the customer's provider, exactly once.

The invoice charger's discipline (`payments/payments/charger.py`), on its own table:

1. a pass claims due charges (`FOR UPDATE SKIP LOCKED`, a lease per claim);
2. a charge called before (`calls > 0`: a crash, a timeout) is first looked up at the provider by
   our reference (the charge's id); if found, its outcome is recorded and nothing is sent;
3. `calls + 1` is committed while the lease is still ours, then the provider is called with the
   charge's idempotency key (`wallet-topup-<wallet transaction id>`);
4. the answer is recorded once, with `wallet_topup_payment.succeeded|failed` in the same transaction.
   No answer (timeout, 5xx) or a charge still `processing`: the lease is released with a back-off and
   the next pass looks it up. An off-session top-up that needs the customer (3-D Secure) is `failed`
   (`authentication_required`): nobody is there to authenticate an automatic charge.

A customer without a provider connection, or one the provider cannot create, is answered `failed` at once.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora import background
from invora.logging import get_logger
from payments import claims
from payments.customers import repository as customers_repository
from payments.customers import service as customers
from payments.payment_methods.service import method_id
from payments.payment_providers import repository as providers_repository
from payments.providers.base import ChargeRequest, ChargeResult, PaymentProviderAdapter, ProviderError
from payments.providers.declines import categorize
from payments.runtime import PaymentsRuntime
from payments.wallet_topups import repository, service

log = get_logger(__name__)


async def run_once(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """One pass: claim due top-up charges and handle them (bounded concurrency); the number claimed."""
    return await claims.run_claimed(
        runtime, sessionmaker, repository.claim_due,
        lambda row: charge_one(runtime, sessionmaker, row["id"], row["lease_until"]),
        failure_event="topup_charge_failed_unexpectedly", id_field="charge_id")


async def _record(sessionmaker, charge_id: uuid.UUID, result: ChargeResult, now: datetime) -> None:
    async with sessionmaker() as session:
        charge = await repository.lock(session, charge_id)
        await service.record_outcome(session, charge, result, now)
        await session.commit()


async def _release(sessionmaker, charge, lease_until: datetime, now: datetime, runtime: PaymentsRuntime,
                   reason: str) -> None:
    backoff = claims.backoff_seconds(runtime.settings.charger_backoff_seconds, charge["calls"])
    log.info("topup_charge_deferred", charge_id=str(charge["id"]), reason=reason, retry_in=backoff)
    async with sessionmaker() as session:
        await repository.release(session, charge["id"], lease_until, now + timedelta(seconds=backoff))
        await session.commit()


async def _payment_method(adapter: PaymentProviderAdapter, provider_id: uuid.UUID, provider_customer_id: str,
                          wanted: str | None) -> str | None:
    """The provider's id of the method to charge: `wanted` is payments' `lago_id` of a method (or the
    provider's own id); None: the customer's default at the provider."""
    if wanted is None:
        return None
    try:
        lago_id = uuid.UUID(wanted)
    except ValueError:
        return wanted
    for method in await adapter.list_payment_methods(provider_customer_id):
        if method_id(provider_id, method.provider_method_id) == lago_id:
            return method.provider_method_id
    raise ProviderError("the payment method is not the customer's", code="payment_method_not_found")


async def charge_one(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession], charge_id: uuid.UUID,
                     lease_until: datetime) -> str:
    """Handle one claimed charge; what happened (for logs and tests)."""
    async with sessionmaker() as session:
        charge = await repository.lock(session, charge_id)
        if charge is None or charge["status"] != "pending" or charge["lease_until"] != lease_until:
            return "lost_claim"
        organization_id = charge["organization_id"]
        customer = await customers_repository.by_id(session, organization_id, charge["customer_id"])
        code = customer["payment_provider_code"] if customer else None
        provider = await providers_repository.by_code(session, organization_id, code) if code else None
        if provider is None:
            await service.record_outcome(session, charge, service.failed(
                "missing_payment_provider", "the customer has no payment provider connection"), runtime.clock.now())
            await session.commit()
            return "no_provider"
        connection = provider.connection()
        await session.commit()  # no lock is held during provider calls
    adapter = runtime.adapters.for_connection(connection)
    reference = str(charge["id"])

    if charge["calls"] > 0:
        try:
            found = await adapter.find_charge(reference=reference, provider_payment_id=charge["provider_payment_id"])
        except ProviderError as exc:
            await _release(sessionmaker, charge, lease_until, runtime.clock.now(), runtime, repr(exc))
            return "lookup_failed"
        if found is not None:
            return await _conclude(runtime, sessionmaker, charge, lease_until, found)

    try:
        provider_customer_id = await customers.ensure_provider_customer(sessionmaker, adapter, customer, connection)
        method = await _payment_method(adapter, provider.id, provider_customer_id, charge["payment_method_id"])
    except ProviderError as exc:
        if exc.retryable:
            await _release(sessionmaker, charge, lease_until, runtime.clock.now(), runtime, repr(exc))
            return "customer_retry"
        await _record(sessionmaker, charge_id, service.failed(exc.code or "provider_customer_error", exc.message),
                      runtime.clock.now())
        return "customer_failed"

    async with sessionmaker() as session:
        marked = await repository.mark_called(session, charge_id, lease_until,
                                              provider_customer_id=provider_customer_id, code=provider.code)
        await session.commit()
    if not marked:
        return "lost_claim"
    request = ChargeRequest(reference=reference, idempotency_key=charge["idempotency_key"],
                            amount_cents=charge["amount_cents"], currency=charge["currency"],
                            provider_customer_id=provider_customer_id, payment_method_id=method,
                            description=charge["description"] or "Wallet top-up",
                            metadata={"invora_wallet_transaction_id": str(charge["wallet_transaction_id"])})
    try:
        result = await adapter.charge(request)
    except ProviderError as exc:
        if exc.retryable:
            await _release(sessionmaker, charge, lease_until, runtime.clock.now(), runtime, repr(exc))
            return "retry"
        result = ChargeResult(status="failed", provider_payment_id=None, provider_status="error",
                              amount_cents=charge["amount_cents"], decline_category=categorize(exc.code),
                              failure_code=exc.code, failure_message=exc.message)
    return await _conclude(runtime, sessionmaker, charge, lease_until, result)


async def _conclude(runtime, sessionmaker, charge, lease_until: datetime, result: ChargeResult) -> str:
    if result.status == "requires_action":
        result = service.failed("authentication_required", "the top-up needs the customer to authenticate")
    if result.status in ("succeeded", "failed"):
        await _record(sessionmaker, charge["id"], result, runtime.clock.now())
        return result.status
    await _release(sessionmaker, charge, lease_until, runtime.clock.now(), runtime, result.status)
    return result.status


def topup_charger_lifespan(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    """The loop, with the invoice charger (`CHARGER_ENABLED`): every `CHARGER_INTERVAL_SECONDS`, at once again
    after a pass that claimed something."""

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        runtime: PaymentsRuntime = app.state.runtime
        if not runtime.settings.charger_enabled:
            yield
            return

        passes = {"topup_charger_pass": lambda: run_once(runtime, app.state.database.sessionmaker)}
        async with background.repeat("payments-topup-charger", passes, runtime.settings.charger_interval_seconds,
                                     again_when_busy=True):
            yield

    return lifespan()
