"""The reconciler: settles payments the provider left unsettled, by looking them up by reference.

A charge the provider answered `processing` (a bank debit, a slow acquirer) or `requires_action`
(3-D Secure) is normally finished by the provider's webhook. When that webhook never comes (lost,
the endpoint misconfigured, our service down while the provider gave up retrying), the payment
would stay unsettled for ever and its invoice unpaid. This loop finds payments unsettled for more
than `RECONCILE_AFTER_SECONDS`, asks the provider for the charge (by its id, else by our
reference, the same lookup the charger makes after a crash), and records what it finds through
`lifecycle`, which publishes the event only if the status moved: a webhook arriving at the same
time changes nothing twice. A payment still unsettled is looked at again every
`RECONCILE_INTERVAL_SECONDS`.

Each payment is its own item (`invora.parking`): a lookup that fails (the provider unreachable, a
connection whose key was revoked) parks that payment with its error and a back-off, and the
others go on. Provider calls are made outside any transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.logging import get_logger
from invora.parking import Backoff, ParkingLot
from payments.payment_providers import service as providers
from payments.payments import lifecycle, repository
from payments.runtime import PaymentsRuntime

log = get_logger(__name__)
PARKING = ParkingLot("payments", "reconciler", Backoff(initial=60.0, maximum=3600.0))
BATCH = 100


async def run_once(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """One pass over the due unsettled payments; what happened to them, counted by outcome."""
    settings = runtime.settings
    now = runtime.clock.now()
    async with sessionmaker() as session:
        due = await repository.unsettled_due(
            session, now, settled_before=now - timedelta(seconds=settings.reconcile_after_seconds), limit=BATCH,
            not_parked=PARKING.not_parked("payments.id", now))
        found = await providers.connections(session, due)
        await session.commit()
    outcomes: dict[str, int] = {}
    for row in due:
        connection = found[row["organization_id"], row["payment_provider_id"]]
        outcome = await reconcile_one(runtime, sessionmaker, row, connection, now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if due:
        async with sessionmaker() as session:
            await PARKING.refresh_metric(session)
            await session.commit()
    return outcomes


async def reconcile_one(runtime: PaymentsRuntime, sessionmaker: async_sessionmaker[AsyncSession], row, connection,
                        now: datetime) -> str:
    payment_id: uuid.UUID = row["id"]
    organization_id: uuid.UUID = row["organization_id"]
    try:
        if connection is None:
            raise LookupError("the payment's provider connection is gone")
        found = await runtime.adapters.for_connection(connection).find_charge(
            reference=row["reference"], provider_payment_id=row["provider_payment_id"])
    except Exception as exc:  # noqa: BLE001 - this payment is parked, the others go on
        async with sessionmaker() as session, session.begin():
            await PARKING.park(session, payment_id, exc, organization_id=organization_id, now=now)
        return "parked"
    next_lookup = now + timedelta(seconds=runtime.settings.reconcile_interval_seconds)

    async def record(session: AsyncSession) -> str:
        payment = await repository.lock(session, payment_id)
        if payment is None or payment["payment_status"] not in ("processing", "requires_action"):
            return "settled_meanwhile"  # a webhook or the charger got there first
        if found is None:
            log.warning("unsettled_payment_unknown_at_provider", payment_id=str(payment_id))
            await repository.defer_lookup(session, payment_id, next_lookup)
            return "not_found"
        if await lifecycle.apply_charge_result(session, payment, found, now):
            return f"settled:{found.status}" if found.status not in ("processing", "requires_action") \
                else f"moved:{found.status}"
        await repository.defer_lookup(session, payment_id, next_lookup)
        return "unchanged"

    done, outcome = await PARKING.isolated(sessionmaker, payment_id, record, organization_id=organization_id, now=now)
    return outcome if done else "parked"
