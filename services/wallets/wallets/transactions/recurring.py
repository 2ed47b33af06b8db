"""Recurring top-ups: a wallet's `trigger: interval` rule adds credits once per interval.

Due times run from the rule's `started_at` (or its creation) every week, month, quarter, half-year
or year; a month lacking the anchor's day uses its last day. Each pass tops up for the latest due
time at or before now, once: `recurring_runs` has the key (wallet, rule, due time), claimed in the
same transaction as the credits, so two passes, two processes or a retried pass never top up twice.

**Catch-up**: intervals missed while the service was down (or the loop was stopped) are caught up
once, not once per missed interval: the first pass after the outage tops up for the latest due
time only, and the earlier ones are never due again (a pass only ever looks at the latest). A
prepaid allowance that expires with its period would otherwise pile up N periods at once. A pass
walks every wallet with an interval rule in id order, a batch per transaction (`FOR UPDATE SKIP
LOCKED`: a wallet another process holds is left to it), so no wallet waits behind the first batch.
"""

from __future__ import annotations

import calendar
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallets.ledger.arithmetic import cents_to_credits
from wallets.transactions import repository, service
from wallets.transactions.recharge import amounts

MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "yearly": 12}
BATCH = 200
FIRST = uuid.UUID(int=0)


def nth_due(anchor: datetime, interval: str, n: int) -> datetime:
    """The n-th due time after `anchor` (n ≥ 1)."""
    if interval == "weekly":
        return anchor + timedelta(weeks=n)
    months = anchor.month - 1 + MONTHS[interval] * n
    year, month = anchor.year + months // 12, months % 12 + 1
    return anchor.replace(year=year, month=month, day=min(anchor.day, calendar.monthrange(year, month)[1]))


def latest_due(anchor: datetime, interval: str, now: datetime) -> datetime | None:
    """The latest due time in (anchor, now], or None before the first."""
    if now < nth_due(anchor, interval, 1):
        return None
    if interval == "weekly":
        return nth_due(anchor, interval, (now - anchor) // timedelta(weeks=1))
    n = max(1, ((now.year - anchor.year) * 12 + now.month - anchor.month) // MONTHS[interval])
    while nth_due(anchor, interval, n) > now:
        n -= 1
    while nth_due(anchor, interval, n + 1) <= now:
        n += 1
    return nth_due(anchor, interval, n)


async def run_due(session: AsyncSession, now: datetime, after: uuid.UUID = FIRST,
                  limit: int = BATCH) -> tuple[int, uuid.UUID | None]:
    """One batch of wallets with interval rules after `after`: (top-ups made, the last wallet id seen, or None
    when this was the last batch)."""
    made = 0
    batch = await repository.wallets_with_interval_rules(session, after, limit)
    for wallet in batch:
        for rule in wallet["recurring_transaction_rules"]:
            if rule.get("trigger") != "interval" or rule.get("status", "active") != "active":
                continue
            if rule.get("expiration_at") and datetime.fromisoformat(rule["expiration_at"]) <= now:
                continue
            anchor = datetime.fromisoformat(rule.get("started_at") or rule["created_at"])
            due = latest_due(anchor, rule["interval"], now)
            if due is None or not await repository.claim_recurring_run(session, wallet["id"], rule["lago_id"], due):
                continue
            usage = cents_to_credits(wallet["ongoing_usage_balance_cents"], wallet["rate_amount"],
                                     wallet["currency"])
            paid, granted = amounts(rule, wallet["credits_balance"] - usage)
            terms = {"now": now, "source": "interval", "description": "Recurring top-up",
                     "name": rule.get("transaction_name"), "metadata": rule.get("transaction_metadata") or []}
            if paid > Decimal(0):
                await service.add_block(session, wallet, credits=paid, category="purchased",
                                        settled=not rule.get("invoice_requires_successful_payment"),
                                        invoice_requires_successful_payment=bool(
                                            rule.get("invoice_requires_successful_payment")), **terms)
            if granted > Decimal(0):
                await service.add_block(session, wallet, credits=granted, category="granted", **terms)
            made += 1
    return made, (batch[-1]["id"] if len(batch) == limit else None)


async def run_due_pass(sessionmaker: async_sessionmaker[AsyncSession], now: datetime, limit: int = BATCH) -> int:
    """Every wallet with an interval rule, a transaction per batch; the number of top-ups made."""
    made = 0
    after: uuid.UUID | None = FIRST
    while after is not None:
        async with sessionmaker() as session:
            count, after = await run_due(session, now, after, limit)
            await session.commit()
        made += count
    return made
