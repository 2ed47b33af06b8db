"""Posting movements: a wallet transaction's balanced entries (wallet legs + one counter-account leg)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from wallets.ledger import repository
from wallets.ledger.arithmetic import Block

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Kind = Literal["grant", "purchase", "consumption", "reversal", "void", "expiry"]
CounterAccount = Literal["granted", "purchased", "consumed", "voided", "expired"]


def to_block(row: RowMapping) -> Block:
    return Block(
        id=row["id"], wallet_id=row["wallet_id"], wallet_priority=row["wallet_priority"],
        wallet_created_at=row["wallet_created_at"], priority=row["priority"], expiration_at=row["expiration_at"],
        category=row["category"] or "granted", created_at=row["created_at"], remaining_cents=row["remaining_cents"],
        remaining_credits=row["remaining_credits"], rate=row["rate_amount"], currency=row["currency"],
    )


async def live_blocks(session: AsyncSession, wallet_ids: Sequence[uuid.UUID], now: datetime) -> list[Block]:
    """The blocks of these wallets with credits left and not past their expiry (lock the wallets first)."""
    return [to_block(row) for row in await repository.live_blocks(session, wallet_ids, now)]


async def blocks_with_credits(session: AsyncSession, wallet_ids: Sequence[uuid.UUID]) -> list[Block]:
    """Every block with something left, expired or not (termination, reconciliation of expiries)."""
    return [to_block(row) for row in await repository.live_blocks(session, wallet_ids, EPOCH)]


async def post(
    session: AsyncSession, *, organization_id: uuid.UUID, movement_id: uuid.UUID, wallet_id: uuid.UUID,
    kind: Kind, counter_account: CounterAccount, legs: Sequence[tuple[uuid.UUID, int, Decimal]], at: datetime,
) -> None:
    """Write one movement: a `wallet` entry per (block, cents, credits) leg and the counter-account's opposite.

    Positive legs add to the wallet; negative ones take from it. The database applies each wallet
    entry to the wallet's and the block's balances, refuses anything below zero, and checks at
    commit that the movement sums to zero.
    """
    rows = entries(organization_id=organization_id, movement_id=movement_id, wallet_id=wallet_id, kind=kind,
                   counter_account=counter_account, legs=legs, at=at)
    if rows:
        await repository.insert_entries(session, rows)


def entries(
    *, organization_id: uuid.UUID, movement_id: uuid.UUID, wallet_id: uuid.UUID, kind: Kind,
    counter_account: CounterAccount, legs: Sequence[tuple[uuid.UUID, int, Decimal]], at: datetime,
) -> list[dict]:
    """The rows of one movement (`post` writes them; a batch writes many movements' rows at once)."""
    if not legs:
        return []
    base = {"organization_id": organization_id, "movement_id": movement_id, "wallet_id": wallet_id, "kind": kind,
            "created_at": at}
    rows = [{**base, "account": "wallet", "block_id": block_id, "amount_cents": cents, "credits": credits}
            for block_id, cents, credits in legs]
    rows.append({**base, "account": counter_account, "block_id": None,
                 "amount_cents": -sum(cents for _, cents, _ in legs),
                 "credits": -sum((credits for _, _, credits in legs), Decimal(0))})
    return rows
