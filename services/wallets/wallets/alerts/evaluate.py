"""Evaluating wallet alerts: each pass compares every alert's watched value with the value it saw last.

Runs in the scheduler's loop (`ALERTS_INTERVAL_SECONDS`), off the money path: a credit application
never waits for alerts. A pass claims alerts in batches (`FOR UPDATE OF wallet_alerts SKIP LOCKED`,
so two processes never evaluate one alert at once) and, for each alert whose value moved, publishes
one `alert.triggered` for the thresholds crossed (`thresholds.crossed`) in the transaction that
stores the new value: each crossing is published once, a redone pass finds nothing new. A balance
that dips below a threshold and recovers between two passes is not seen (the pass compares two
values, as Lago's asynchronous evaluation does).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora import background
from invora.events.contracts.wallets import AlertThreshold, TriggeredWalletAlert, WalletAlertTriggered
from invora.ids import uuid7
from wallets.alerts import repository
from wallets.alerts.service import value_text, watched_value
from wallets.alerts.thresholds import crossed
from wallets.events import publish

BATCH = 500


async def evaluate_batch(session: AsyncSession, after: uuid.UUID, now: datetime,
                         limit: int = BATCH) -> tuple[int, uuid.UUID | None]:
    """One batch in the caller's transaction: (events published, the last alert id claimed or None at the end)."""
    rows = await repository.claim_batch(session, after, limit)
    published = 0
    changed = []
    for row in rows:
        current = watched_value(row["alert_type"], row)
        previous = row["previous_value"]
        if current == previous and row["last_processed_at"] is not None:
            continue
        changed.append((row["id"], current))
        hits = crossed(row["thresholds"], previous, current)
        if not hits:
            continue
        await publish(session, row["organization_id"], "alert.triggered", row["id"], WalletAlertTriggered(
            triggered_alert=TriggeredWalletAlert(
                lago_id=uuid7(), lago_organization_id=row["organization_id"], lago_alert_id=row["id"],
                lago_wallet_id=row["wallet_id"], wallet_code=row["wallet_code"],
                external_customer_id=row["external_customer_id"], alert_type=row["alert_type"],
                alert_code=row["code"], alert_name=row["name"], previous_value=value_text(previous),
                current_value=value_text(current), crossed_thresholds=[AlertThreshold.model_validate(h) for h in hits],
                triggered_at=now)))
        published += 1
    await repository.record_values(session, changed, now)
    return published, (rows[-1]["id"] if len(rows) == limit else None)


async def evaluate_alerts(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """One pass over every alert, a transaction per batch; the number of `alert.triggered` published."""
    published = 0
    after: uuid.UUID | None = uuid.UUID(int=0)
    while after is not None:
        async with sessionmaker() as session:
            count, after = await evaluate_batch(session, after, now)
            await session.commit()
        published += count
    return published


def alerts_lifespan(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    """The evaluation loop, with the scheduler (`SCHEDULER_ENABLED`), every `ALERTS_INTERVAL_SECONDS`."""

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        runtime = app.state.runtime
        if not runtime.settings.scheduler_enabled:
            yield
            return

        passes = {"wallet_alerts": lambda: evaluate_alerts(app.state.database.sessionmaker, runtime.clock.now())}
        async with background.repeat("wallets-alerts", passes, runtime.settings.alerts_interval_seconds):
            yield

    return lifespan()
