"""Wallet alerts (Lago's `alerts` on a wallet): thresholds on a balance, checked as the balance moves down."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Numeric, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from wallets.db import Base


class WalletAlert(Base):
    """`previous_value` is the value seen at the last evaluation (at creation: the value then)."""

    __tablename__ = "wallet_alerts"
    __table_args__ = (
        UniqueConstraint("wallet_id", "code", name="uq_wallet_alerts_code"),
        CheckConstraint("alert_type IN ('wallet_balance_amount', 'wallet_credits_balance', "
                        "'wallet_ongoing_balance_amount', 'wallet_credits_ongoing_balance')",
                        name="alert_type_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    wallet_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("wallets.id"), nullable=False)
    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    alert_type: Mapped[str] = mapped_column(String(64), nullable=False)
    thresholds: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    previous_value: Mapped[Decimal] = mapped_column(Numeric(30, 5), nullable=False)
    last_processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
