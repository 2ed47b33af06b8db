"""Auto recharge: a wallet's `threshold` rule tops it up when a debit takes its balance to the threshold.

Guards against runaway loops (the bugs Lago shipped were recharges that re-triggered themselves, or
retried a declined card forever):

- **one in flight per wallet**: a paid recharge stays `pending` until its payment settles or fails,
  and no other starts meanwhile (a unique partial index on the wallet's pending `threshold`
  transactions makes it a database fact, whatever two concurrent debits do);
- **back-off after a decline**: after a failed payment the next recharge waits
  `BACKOFF × 2^(declines today − 1)` (one hour, then two, four…);
- **a daily cap**: at most `MAX_PER_DAY` (5) recharges per wallet in 24 hours; the one that reaches the
  cap publishes `wallet.auto_recharge_limit_reached` (once per day), and the rest wait.

A recharge only ever follows a debit (an invoice, a void, an expiry), never another recharge, so a
granted top-up cannot feed itself either. Rules with `trigger: interval` are stored, not run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.wallets import AutoRechargeLimitReached
from invora.logging import get_logger
from wallets.events import publish
from wallets.ledger.arithmetic import cents_to_credits
from wallets.transactions import repository, service
from wallets.wallets.render import render as render_wallet

log = get_logger(__name__)
DAY = timedelta(days=1)


MAX_PER_DAY = 5
BACKOFF = timedelta(hours=1)


def _active_threshold_rule(wallet: RowMapping, now: datetime) -> dict | None:
    for rule in wallet["recurring_transaction_rules"]:
        if rule.get("trigger") != "threshold" or rule.get("status", "active") != "active":
            continue
        if rule.get("started_at") and datetime.fromisoformat(rule["started_at"]) > now:
            continue
        if rule.get("expiration_at") and datetime.fromisoformat(rule["expiration_at"]) <= now:
            continue
        return rule
    return None


def amounts(rule: dict, ongoing_credits: Decimal) -> tuple[Decimal, Decimal]:
    """(paid, granted) credits of one recharge."""
    if rule.get("method") == "target":
        gap = Decimal(rule["target_ongoing_balance"]) - ongoing_credits
        if gap <= 0:
            return Decimal(0), Decimal(0)
        return (Decimal(0), gap) if rule.get("grants_target_top_up") else (gap, Decimal(0))
    return Decimal(rule.get("paid_credits") or 0), Decimal(rule.get("granted_credits") or 0)


def has_threshold_rule(wallet: RowMapping, now: datetime) -> bool:
    """Whether a debit on this wallet may start a recharge (it has a threshold rule in force): without one,
    `maybe_recharge` does nothing."""
    return wallet["status"] == "active" and _active_threshold_rule(wallet, now) is not None


async def maybe_recharge(session: AsyncSession, wallet: RowMapping, now: datetime) -> list[RowMapping]:
    """After a debit on `wallet` (locked, as it is now): top it up if its threshold rule says so and the
    guards allow. The transactions created (none, most of the time)."""
    if wallet["status"] != "active":
        return []
    rule = _active_threshold_rule(wallet, now)
    if rule is None:
        return []
    usage = cents_to_credits(wallet["ongoing_usage_balance_cents"], wallet["rate_amount"], wallet["currency"])
    ongoing = wallet["credits_balance"] - usage
    if ongoing > Decimal(rule["threshold_credits"]):
        return []
    recent = await repository.recharges_since(session, wallet["id"], now - DAY)
    if any(r["status"] == "pending" for r in recent):
        log.info("auto_recharge_skipped", wallet_id=str(wallet["id"]), reason="in_flight")
        return []
    declines = [r["failed_at"] for r in recent if r["status"] == "failed" and r["failed_at"] is not None]
    if declines and max(declines) + BACKOFF * 2 ** (len(declines) - 1) > now:
        log.info("auto_recharge_skipped", wallet_id=str(wallet["id"]), reason="backoff")
        return []
    if len(recent) >= MAX_PER_DAY:
        log.warning("auto_recharge_skipped", wallet_id=str(wallet["id"]), reason="daily_cap")
        return []
    paid, granted = amounts(rule, ongoing)
    terms = {"now": now, "source": "threshold", "description": "Auto recharge", "name": rule.get("transaction_name"),
             "metadata": rule.get("transaction_metadata") or []}
    created = []
    if paid > 0:
        created.append(await service.add_block(
            session, wallet, credits=paid, category="purchased", settled=False,
            invoice_requires_successful_payment=True, **terms))
    if granted > 0:
        created.append(await service.add_block(session, wallet, credits=granted, category="granted", **terms))
    if created and len(recent) + 1 == MAX_PER_DAY:
        await publish(session, wallet["organization_id"], "wallet.auto_recharge_limit_reached", wallet["id"],
                      AutoRechargeLimitReached(wallet=render_wallet(wallet), recharges_today=MAX_PER_DAY,
                                               limit=MAX_PER_DAY))
    return created
