"""Reconciliation: every balance against the sum of its ledger entries, on a timer.

The triggers make drift impossible through SQL that respects them; this loop is the independent
check that says so (or not): a wallet whose balances differ from Σ of its `wallet` entries, a
block whose remaining figures differ from Σ of the entries naming it, a wallet unlike Σ of its
blocks, a movement that does not sum to zero. Each finding is logged (`ledger_drift`, error) and
counted in `invora_wallets_ledger_drift` (a gauge per kind, the count from the last run); a clean
run sets them to zero. It only reads, so running it in several processes at once is harmless.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora import background
from invora.logging import get_logger
from wallets.ledger import repository

log = get_logger(__name__)

LEDGER_DRIFT = Gauge("invora_wallets_ledger_drift", "Ledger inconsistencies found by the last reconciliation",
                     ["kind"])
RECONCILIATIONS = Counter("invora_wallets_reconciliations_total", "Ledger reconciliation runs", ["outcome"])

KINDS = ("wallet_balance", "block_remaining", "wallet_blocks", "unbalanced_movement")


@dataclass
class Report:
    findings: dict[str, list[dict]] = field(default_factory=lambda: {kind: [] for kind in KINDS})

    @property
    def clean(self) -> bool:
        return not any(self.findings.values())


async def reconcile(session: AsyncSession) -> Report:
    report = Report()
    report.findings["wallet_balance"] = [dict(r) for r in await repository.balance_drift(session)]
    report.findings["block_remaining"] = [dict(r) for r in await repository.block_drift(session)]
    report.findings["wallet_blocks"] = [dict(r) for r in await repository.wallets_unlike_their_blocks(session)]
    report.findings["unbalanced_movement"] = [dict(r) for r in await repository.unbalanced_movements(session)]
    for kind, rows in report.findings.items():
        LEDGER_DRIFT.labels(kind).set(len(rows))
        for row in rows[:100]:
            log.error("ledger_drift", kind=kind, **{k: str(v) for k, v in row.items()})
    RECONCILIATIONS.labels("clean" if report.clean else "drift").inc()
    return report


async def run_once(sessionmaker: async_sessionmaker[AsyncSession]) -> Report:
    async with sessionmaker() as session, session.begin():
        # one snapshot for every sum, so a movement committing meanwhile is seen whole or not at all
        await repository.repeatable_read(session)
        return await reconcile(session)


def reconciliation_lifespan(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        settings = app.state.runtime.settings
        if not settings.reconciliation_enabled:
            yield
            return

        async def reconciliation() -> None:
            try:
                await run_once(app.state.database.sessionmaker)
            except Exception:
                RECONCILIATIONS.labels("failed").inc()
                raise

        async with background.repeat("wallets-reconciliation", {"reconciliation": reconciliation},
                                     settings.reconciliation_interval_seconds, wait_first=True):
            yield

    return lifespan()
