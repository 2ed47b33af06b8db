"""The refund reconciler: settles refunds the provider answered `pending` when its webhook never comes.

A refund the provider accepted but has not finished (Paystack, Adyen, GoCardless, Cashfree, Tap, MoneyHash answer
`pending`) is normally settled by the provider's webhook. When that webhook is lost, this loop (in the charger's,
beside the charge reconciler) looks the refund up at the provider `RECONCILE_AFTER_SECONDS` after it was answered,
by the provider's refund id where the provider has a read (Stripe, GoCardless, Tap, MoneyHash through the intent) or
by our reference (Paystack, Flutterwave, Cashfree: our reference is the refund's id there), and records what it
finds through the same `service.finish` as the refunder and the webhook: only a `pending` refund moves, under its
lock, so `refund.succeeded|failed` is published once whichever comes first, and a webhook arriving later answers
`no_change`. A refund still pending (or that the provider cannot read back: Adyen has no refund look-up) is looked
at again every `RECONCILE_INTERVAL_SECONDS` (its claim's `lease_until` is its next look-up). A look-up that fails is
logged and the refund waits for its next turn; the others go on. Provider calls are made outside any transaction.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.logging import get_logger
from payments.payment_providers import service as providers
from payments.providers.base import RefundResult
from payments.refunds import repository
from payments.refunds.service import finish
from payments.runtime import PaymentsRuntime

log = get_logger(__name__)
BATCH = 100


async def run_once(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """One pass over the due pending refunds; what happened to them, counted by outcome."""
    settings = runtime.settings
    now = runtime.clock.now()
    async with sessionmaker() as session:
        due = await repository.claim_unsettled(
            session, now, settled_before=now - timedelta(seconds=settings.reconcile_after_seconds),
            next_lookup=now + timedelta(seconds=settings.reconcile_interval_seconds), limit=BATCH)
        found = await providers.connections(session, due)
        await session.commit()
    outcomes: dict[str, int] = {}
    for row in due:
        connection = found[row["organization_id"], row["payment_provider_id"]]
        outcome = await _reconcile_one(runtime, sessionmaker, row, connection)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


async def _reconcile_one(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession], row,
                         connection) -> str:
    try:
        if connection is None:
            raise LookupError("the payment's provider connection is gone")
        found: RefundResult | None = await runtime.adapters.for_connection(connection).find_refund(
            provider_payment_id=row["provider_payment_id"], reference=str(row["id"]),
            provider_refund_id=row["provider_refund_id"])
    except Exception as exc:  # noqa: BLE001 - this refund waits for its next look-up; the others go on
        log.warning("refund_lookup_failed", refund_id=str(row["id"]), error=repr(exc))
        return "lookup_failed"
    if found is None:
        log.info("pending_refund_not_readable_at_provider", refund_id=str(row["id"]))
        return "not_found"
    if found.status == "pending":
        return "unchanged"
    async with sessionmaker() as session:
        refund = await repository.lock(session, row["id"])
        if refund is None or refund["status"] != "pending":
            return "settled_meanwhile"  # the webhook got there first
        await finish(session, refund["organization_id"], refund["id"],
                     RefundResult(status=found.status, provider_refund_id=row["provider_refund_id"],
                                  failure_message=found.failure_message), actor="reconciler")
        await session.commit()
    return f"settled:{found.status}"
