"""The ongoing balance: the balance minus the current unbilled usage, refreshed from subscriptions.

Every `USAGE_REFRESH_INTERVAL_SECONDS` (default 60) a pass asks the subscriptions service, customer by
customer (at most `USAGE_REFRESH_CONCURRENCY` at once, each call with a timeout and retries), for the
current usage of the customers that hold an active wallet (`client.py`), then, in one transaction per
customer, locks its active wallets and stores each one's `ongoing_usage_balance_cents` and
`last_balance_sync_at`. When that takes a wallet's ongoing balance from above zero to zero or below,
`wallet.depleted_ongoing_balance` is published; a threshold auto recharge (it watches the ongoing
balance) may follow, with its guards; wallet alerts on the ongoing figures see the new value at
their next evaluation. Subscriptions unreachable: the last figures stay (and `last_balance_sync_at`
says how old they are), the pass moves on. A pass started while another runs in the same process
is skipped; two processes may both refresh, which only writes the same figures twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora import background
from invora.logging import get_logger
from invora.outbox import add_events
from invora.service_client import ServiceClient, ServiceUnavailableError
from wallets.ledger import repository as ledger_repository
from wallets.transactions.recharge import maybe_recharge
from wallets.transactions.service import depletion_events
from wallets.usage import repository
from wallets.usage.client import current_usages, usage_client, wallet_usage_cents
from wallets.wallets import repository as wallets_repository

log = get_logger(__name__)
BATCH = 200
ZERO = uuid.UUID(int=0)


async def refresh_customer(sessionmaker: async_sessionmaker[AsyncSession], client: ServiceClient,
                           organization_id: uuid.UUID, customer_id: uuid.UUID, external_customer_id: str,
                           now: datetime) -> int | None:
    """Refresh one customer's active wallets; how many changed, or None when subscriptions did not answer."""
    try:
        usages = await current_usages(client, organization_id, external_customer_id)
    except ServiceUnavailableError as exc:
        log.warning("ongoing_usage_unavailable", customer_id=str(customer_id), error=str(exc))
        return None
    changed = 0
    async with sessionmaker() as session:
        for wallet in await ledger_repository.lock_active_wallets_of(session, [customer_id]):
            usage = wallet_usage_cents(wallet, usages)
            after = await wallets_repository.update_fields(session, wallet["id"], {
                "ongoing_usage_balance_cents": usage, "last_balance_sync_at": now})
            if usage == wallet["ongoing_usage_balance_cents"]:
                continue
            changed += 1
            await add_events(session, depletion_events(wallet, after))
            if usage > wallet["ongoing_usage_balance_cents"]:  # more consumed: as a debit would
                await maybe_recharge(session, after, now)
        await session.commit()
    return changed


async def refresh_pass(sessionmaker: async_sessionmaker[AsyncSession], client: ServiceClient, now: datetime,
                       concurrency: int = 8) -> int:
    """Every customer with an active wallet once; the number of wallets whose ongoing usage changed."""
    changed = 0
    after = (ZERO, ZERO)
    limit = asyncio.Semaphore(concurrency)

    async def one(row) -> int:
        async with limit:
            return await refresh_customer(sessionmaker, client, row["organization_id"], row["customer_id"],
                                          row["external_customer_id"], now) or 0

    while True:
        async with sessionmaker() as session:
            rows = await repository.customers_with_wallets(session, after, BATCH)
        changed += sum(await asyncio.gather(*(one(row) for row in rows)))
        if len(rows) < BATCH:
            return changed
        after = (rows[-1]["organization_id"], rows[-1]["customer_id"])


def usage_refresh_lifespan(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        runtime = app.state.runtime
        settings = runtime.settings
        client = usage_client(settings)
        if not (settings.scheduler_enabled and settings.usage_refresh_enabled) or not client.configured:
            if settings.scheduler_enabled and settings.usage_refresh_enabled:
                log.warning("ongoing_usage_refresh_off", reason="no key for the subscriptions service")
            await client.aclose()
            yield
            return

        passes = {"ongoing_usage_refresh": lambda: refresh_pass(
            app.state.database.sessionmaker, client, runtime.clock.now(), settings.usage_refresh_concurrency)}
        try:
            async with background.repeat("wallets-usage-refresh", passes, settings.usage_refresh_interval_seconds):
                yield
        finally:
            await client.aclose()

    return lifespan()
