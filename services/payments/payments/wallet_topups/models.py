"""Charges of wallet top-ups: one row per top-up wallets asked payments to charge (its own table, its own loop)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from payments.db import Base


class WalletTopUpCharge(Base):
    """`id` is our reference at the provider (found again by it); `idempotency_key` is derived from the top-up,
    so the provider itself refuses a second charge for one top-up."""

    __tablename__ = "wallet_topup_charges"
    __table_args__ = (
        # one charge per top-up, whatever wallets (or the bus) repeats
        UniqueConstraint("organization_id", "wallet_transaction_id", name="uq_wallet_topup_charges_transaction"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("NOT manual OR calls = 0", name="manual_never_called"),  # a page, never off-session
        Index("ix_wallet_topup_charges_pending", "created_at",
              postgresql_where=text("status = 'pending' AND NOT manual")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    wallet_transaction_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    wallet_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    description: Mapped[str | None] = mapped_column(String(255))
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="pending")
    payment_provider_code: Mapped[str | None] = mapped_column(String(255))
    provider_customer_id: Mapped[str | None] = mapped_column(String(255))
    provider_payment_id: Mapped[str | None] = mapped_column(String(255))
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    calls: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    manual: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))  # Lago's manual
    hosted_url: Mapped[str | None] = mapped_column(Text)  # the provider's page made for a manual top-up
    hosted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # set before the page is asked for
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
