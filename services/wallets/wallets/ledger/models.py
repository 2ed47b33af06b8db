"""The ledger: append-only, double-entry. Every wallet transaction is one movement of balanced entries.

Accounts: `wallet` (the wallet's balance, entries name the credit block they add to or take
from) and the organization's counter-accounts `granted`, `purchased`, `consumed`, `voided`,
`expired`. Credits leave `granted` into a wallet, a consumption moves them from the wallet into
`consumed`, and so on: each movement's entries sum to zero in cents and in credits.

What the database enforces (migration 0004):
- entries are never updated nor deleted (a trigger raises);
- each movement sums to zero in both units (a deferred constraint trigger, checked at commit);
- a `wallet` entry adds itself to the wallet's balances and its block's remaining figures in the
  same statement (a trigger), and `CHECK`s keep both at or above zero: a debit larger than what
  is there fails the whole transaction; nothing else may change those columns.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from wallets.db import Base
from wallets.wallets.models import CREDITS

ACCOUNTS = ("wallet", "granted", "purchased", "consumed", "voided", "expired")


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_movement", "movement_id"),
        Index("ix_ledger_entries_wallet", "wallet_id"),
        Index("ix_ledger_entries_block", "block_id"),
        CheckConstraint("account IN ('wallet', 'granted', 'purchased', 'consumed', 'voided', 'expired')",
                        name="account_known"),
        CheckConstraint("(account = 'wallet') = (block_id IS NOT NULL)", name="wallet_entries_name_a_block"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    movement_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("wallet_transactions.id"),
                                                   nullable=False)
    wallet_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("wallets.id"), nullable=False)
    account: Mapped[str] = mapped_column(String(20), nullable=False)
    block_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("wallet_transactions.id"))
    # grant, purchase, consumption, reversal, void, expiry
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)  # signed: + adds to the account
    credits: Mapped[Decimal] = mapped_column(CREDITS, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
