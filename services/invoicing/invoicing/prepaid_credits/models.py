"""The wallets projection: which customers hold an active wallet in which currency.

Kept from `wallet.created|updated|terminated` (the wallets service's events, topic `invora.wallet`), so an
invoice whose customer has no usable wallet finalizes at once instead of paying the round trip to the
wallets service. A row only moves forward (the wallet's event `sequence`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicing.db import Base


class WalletProjection(Base):
    __tablename__ = "wallets"
    __table_args__ = (
        Index("ix_wallets_customer_currency", "organization_id", "customer_id", "currency"),
        CheckConstraint("status IN ('active', 'terminated')", name="status"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
