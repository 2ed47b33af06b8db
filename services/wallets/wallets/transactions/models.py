"""Wallet transactions: each one movement of the ledger; an inbound one is also a credit block.

A block's `remaining_cents` / `remaining_credits` are written only by the ledger trigger (the sum
of the ledger entries that name the block) and can never go below zero.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invora.db.base import OrganizationModel
from wallets.db import Base
from wallets.wallets.models import CREDITS


class WalletTransaction(OrganizationModel, Base):
    __tablename__ = "wallet_transactions"
    __table_args__ = (
        Index("ix_wallet_transactions_wallet_created", "wallet_id", "created_at", "id"),
        Index("ix_wallet_transactions_customer_history", "organization_id", "customer_id", "created_at", "id"),
        Index("ix_wallet_transactions_live_blocks", "wallet_id",
              postgresql_where=text("is_block AND (remaining_credits > 0 OR remaining_cents > 0)")),
        Index("ix_wallet_transactions_expiring", "expiration_at",
              postgresql_where=text("is_block AND (remaining_credits > 0 OR remaining_cents > 0) "
                                    "AND expiration_at IS NOT NULL")),
        # auto recharge: one in flight per wallet
        Index("uq_wallet_transactions_recharge_in_flight", "wallet_id", unique=True,
              postgresql_where=text("source = 'threshold' AND status = 'pending'")),
        CheckConstraint("remaining_cents >= 0", name="remaining_cents_not_negative"),
        CheckConstraint("remaining_credits >= 0", name="remaining_credits_not_negative"),
        CheckConstraint("amount_cents >= 0 AND credit_amount >= 0", name="amounts_not_negative"),
        CheckConstraint("transaction_type IN ('inbound', 'outbound')", name="type_known"),
        CheckConstraint("status IN ('pending', 'settled', 'failed')", name="status_known"),
        CheckConstraint("transaction_status IN ('purchased', 'granted', 'voided', 'invoiced')",
                        name="transaction_status_known"),
        CheckConstraint("category IS NULL OR category IN ('granted', 'purchased')", name="category_known"),
    )

    wallet_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("wallets.id"), nullable=False)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    transaction_type: Mapped[str] = mapped_column(String(10), nullable=False)
    transaction_status: Mapped[str] = mapped_column(String(10), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False, server_default="manual")
    credit_amount: Mapped[Decimal] = mapped_column(CREDITS, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # inbound blocks: what is left (ledger trigger); null for other movements
    remaining_credits: Mapped[Decimal | None] = mapped_column(CREDITS)
    remaining_cents: Mapped[int | None] = mapped_column(BigInteger)
    is_block: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    category: Mapped[str | None] = mapped_column(String(10))
    priority: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="50")
    expiration_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[list] = mapped_column("metadata", JSONB, nullable=False, server_default="[]")
    invoice_requires_successful_payment: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    lago_invoice_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    lago_voided_invoice_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    purchase_order_number: Mapped[str | None] = mapped_column(String(255))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str | None] = mapped_column(String(255))
