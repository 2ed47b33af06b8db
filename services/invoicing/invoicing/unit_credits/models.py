"""The unit-credit grants projection: which customers hold unit grants (seed 002) of which metrics.

Kept from wallets' internal `wallet.unit_credit_created|voided|expired` (topic `invora.wallet`), so a period
invoice asks wallets for credited units only when its customer holds a live grant of one of its metrics;
every other customer pays no round trip. A row only moves forward (the grant's event `sequence`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicing.db import Base


class UnitCreditGrantProjection(Base):
    __tablename__ = "unit_credit_grants"
    __table_args__ = (
        Index("ix_unit_credit_grants_customer", "organization_id", "customer_id"),
        CheckConstraint("status IN ('active', 'voided', 'expired')", name="status"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    billable_metric_code: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    expiration_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
