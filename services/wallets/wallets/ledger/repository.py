"""SQL of the ledger: entries, locks, live credit blocks, and the reconciliation's sums."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

# wallets are locked in id order, so two movements over overlapping wallets never deadlock
_LOCK_WALLETS = text(
    "SELECT * FROM wallets WHERE organization_id = :org AND id = ANY(:ids) ORDER BY id FOR UPDATE"
)
_LIVE_BLOCKS = text(
    """
    SELECT t.id, t.wallet_id, w.priority AS wallet_priority, w.created_at AS wallet_created_at, t.priority,
           t.expiration_at, t.category, t.created_at, t.remaining_cents, t.remaining_credits,
           w.rate_amount, w.currency
    FROM wallet_transactions t JOIN wallets w ON w.id = t.wallet_id
    WHERE t.wallet_id = ANY(:ids) AND t.is_block AND (t.remaining_credits > 0 OR t.remaining_cents > 0)
      AND (t.expiration_at IS NULL OR t.expiration_at > :now)
    """
)
_BALANCE_DRIFT = text(
    """
    SELECT w.id, w.organization_id, w.balance_cents, w.credits_balance,
           coalesce(e.cents, 0) AS ledger_cents, coalesce(e.credits, 0) AS ledger_credits
    FROM wallets w
    LEFT JOIN (SELECT wallet_id, sum(amount_cents) AS cents, sum(credits) AS credits
               FROM ledger_entries WHERE account = 'wallet' GROUP BY wallet_id) e ON e.wallet_id = w.id
    WHERE w.balance_cents <> coalesce(e.cents, 0) OR w.credits_balance <> coalesce(e.credits, 0)
    """
)
_BLOCK_DRIFT = text(
    """
    SELECT t.id, t.organization_id, t.remaining_cents, t.remaining_credits,
           coalesce(e.cents, 0) AS ledger_cents, coalesce(e.credits, 0) AS ledger_credits
    FROM wallet_transactions t
    LEFT JOIN (SELECT block_id, sum(amount_cents) AS cents, sum(credits) AS credits
               FROM ledger_entries WHERE account = 'wallet' GROUP BY block_id) e ON e.block_id = t.id
    WHERE t.is_block AND (t.remaining_cents <> coalesce(e.cents, 0) OR t.remaining_credits <> coalesce(e.credits, 0))
    """
)
_UNBALANCED_MOVEMENTS = text(
    """
    SELECT movement_id, sum(amount_cents) AS cents, sum(credits) AS credits
    FROM ledger_entries GROUP BY movement_id HAVING sum(amount_cents) <> 0 OR sum(credits) <> 0
    """
)
_BLOCKS_OF_WALLET_SUM = text(
    """
    SELECT w.id FROM wallets w
    LEFT JOIN (SELECT wallet_id, sum(remaining_cents) AS cents, sum(remaining_credits) AS credits
               FROM wallet_transactions WHERE is_block GROUP BY wallet_id) b ON b.wallet_id = w.id
    WHERE w.balance_cents <> coalesce(b.cents, 0) OR w.credits_balance <> coalesce(b.credits, 0)
    """
)


async def lock_wallets(session: AsyncSession, organization_id: uuid.UUID,
                       wallet_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    if not wallet_ids:
        return []
    return list((await session.execute(_LOCK_WALLETS, {"org": organization_id, "ids": list(wallet_ids)})
                 ).mappings().all())


async def live_blocks(session: AsyncSession, wallet_ids: Sequence[uuid.UUID], now: datetime) -> list[RowMapping]:
    if not wallet_ids:
        return []
    return list((await session.execute(_LIVE_BLOCKS, {"ids": list(wallet_ids), "now": now})).mappings().all())


# every entry of a batch in one statement: the ledger's trigger then moves each wallet and block once
_INSERT_ENTRIES = text(
    """
    INSERT INTO ledger_entries (organization_id, movement_id, wallet_id, account, block_id, kind, amount_cents,
                                credits, created_at)
    SELECT o, m, w, a, b, k, c, cr, coalesce(t, now())
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:movements AS uuid[]), CAST(:wallets AS uuid[]),
                CAST(:accounts AS varchar[]), CAST(:blocks AS uuid[]), CAST(:kinds AS varchar[]),
                CAST(:cents AS bigint[]), CAST(:credits AS numeric[]), CAST(:at AS timestamptz[]))
         WITH ORDINALITY AS e(o, m, w, a, b, k, c, cr, t, n)
    ORDER BY n
    """
)


async def insert_entries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write entries (`ledger.service.entries` rows: one or many movements) in one statement."""
    if not rows:
        return
    await session.execute(_INSERT_ENTRIES, {
        "orgs": [r["organization_id"] for r in rows], "movements": [r["movement_id"] for r in rows],
        "wallets": [r["wallet_id"] for r in rows], "accounts": [r["account"] for r in rows],
        "blocks": [r["block_id"] for r in rows], "kinds": [r["kind"] for r in rows],
        "cents": [r["amount_cents"] for r in rows], "credits": [r["credits"] for r in rows],
        "at": [r.get("created_at") for r in rows]})


async def balance_drift(session: AsyncSession) -> list[RowMapping]:
    return list((await session.execute(_BALANCE_DRIFT)).mappings().all())


async def block_drift(session: AsyncSession) -> list[RowMapping]:
    return list((await session.execute(_BLOCK_DRIFT)).mappings().all())


async def unbalanced_movements(session: AsyncSession) -> list[RowMapping]:
    return list((await session.execute(_UNBALANCED_MOVEMENTS)).mappings().all())


async def wallets_unlike_their_blocks(session: AsyncSession) -> list[RowMapping]:
    return list((await session.execute(_BLOCKS_OF_WALLET_SUM)).mappings().all())

REPEATABLE_READ = text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


async def repeatable_read(session: AsyncSession) -> None:
    """The transaction's reads share one snapshot (first statement of the transaction)."""
    await session.execute(REPEATABLE_READ)


# every active wallet of these customers, locked in id order (one statement for a whole batch)
_LOCK_ACTIVE_OF_CUSTOMERS = text(
    "SELECT * FROM wallets WHERE customer_id = ANY(:customers) AND status = 'active' ORDER BY id FOR UPDATE"
)
_WALLETS_BY_IDS = text("SELECT * FROM wallets WHERE id = ANY(:ids)")


# the same, found from (organization, external customer id) through the live customers, in one statement
_LOCK_ACTIVE_OF_EXTERNAL_IDS = text(
    """
    SELECT w.*, c.external_id AS customer_external_id FROM wallets w
    JOIN customers c ON c.id = w.customer_id AND c.deleted_at IS NULL
    JOIN unnest(CAST(:orgs AS uuid[]), CAST(:external_ids AS varchar[])) AS k(o, e)
      ON c.organization_id = k.o AND c.external_id = k.e
    WHERE w.status = 'active'
    ORDER BY w.id FOR UPDATE OF w
    """
)


async def lock_active_wallets_of_external_ids(session: AsyncSession, keys: Sequence[tuple[uuid.UUID, str]],
                                              ) -> list[RowMapping]:
    """Every active wallet of the live customers named by (organization, external id), locked in id order;
    each row carries its customer's `customer_external_id`."""
    if not keys:
        return []
    return list((await session.execute(_LOCK_ACTIVE_OF_EXTERNAL_IDS, {
        "orgs": [k[0] for k in keys], "external_ids": [k[1] for k in keys]})).mappings().all())


async def lock_active_wallets_of(session: AsyncSession, customer_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    if not customer_ids:
        return []
    return list((await session.execute(_LOCK_ACTIVE_OF_CUSTOMERS, {"customers": list(customer_ids)})
                 ).mappings().all())


async def wallets_by_ids(session: AsyncSession, wallet_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    if not wallet_ids:
        return []
    return list((await session.execute(_WALLETS_BY_IDS, {"ids": list(wallet_ids)})).mappings().all())
