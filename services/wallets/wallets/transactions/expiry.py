"""The expiry loop: wallets past `expiration_at` are terminated, blocks past theirs lose what is left;
the same loop runs the recurring (interval) top-ups that are due (`recurring.py`).

Runs in every process safely: wallets are claimed with `FOR UPDATE SKIP LOCKED`; a block is expired
only after its wallet is locked and the block re-read under that lock, and the removal takes exactly
what is left (zero the second time), so two loops never remove anything twice. Expired credits
cannot come back (a void's reversal does not refill an expired block).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora import background
from wallets.ledger import repository as ledger_repository
from wallets.transactions import repository, service
from wallets.transactions.recurring import run_due_pass
from wallets.unit_credits import service as unit_credits
from wallets.wallets import repository as wallets_repository
from wallets.wallets import service as wallets_service

BATCH = 200


async def expire_due(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """One pass: expired wallets and blocks due at `now`; the number of movements written."""
    written = 0
    async with sessionmaker() as session:
        for wallet in await wallets_repository.due_for_expiry(session, now, BATCH):
            await wallets_service.terminate(session, wallet, now=now, reason="expired")
            written += 1
        await session.commit()
    async with sessionmaker() as session:
        due = await repository.expiring_blocks(session, now, BATCH)
        by_wallet: dict = {}
        for block in due:
            by_wallet.setdefault((block["organization_id"], block["wallet_id"]), []).append(block["id"])
        for (organization_id, wallet_id), block_ids in sorted(by_wallet.items(), key=lambda item: str(item[0][1])):
            locked = await ledger_repository.lock_wallets(session, organization_id, [wallet_id])
            if not locked:
                continue
            for block_id in block_ids:
                wallet = (await ledger_repository.lock_wallets(session, organization_id, [wallet_id]))[0]
                block = await repository.by_id(session, organization_id, block_id)
                left = block is not None and (block["remaining_credits"] > 0 or block["remaining_cents"] > 0)
                if left and await service.expire_block(session, wallet, block, now) is not None:
                    written += 1
        await session.commit()
    async with sessionmaker() as session:  # unit credit grants past their expiry (wallets/unit_credits)
        written += await unit_credits.expire_due(session, now, BATCH)
        await session.commit()
    return written


def expiry_lifespan(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        runtime = app.state.runtime
        if not runtime.settings.scheduler_enabled:
            yield
            return

        passes = {"expiry": lambda: expire_due(app.state.database.sessionmaker, runtime.clock.now()),
                  "recurring_top_ups": lambda: run_due_pass(app.state.database.sessionmaker, runtime.clock.now())}
        async with background.repeat("wallets-expiry", passes, runtime.settings.expiry_interval_seconds):
            yield

    return lifespan()
