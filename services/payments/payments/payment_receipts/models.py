"""Payment receipts: one per succeeded payment, numbered gaplessly per organization.

The number comes from the organization's counter row, incremented in the transaction that records
the payment's success: the row stays locked until that transaction ends, so two receipts never share
a number, and a transaction rolled back gives its number back (no gap). The database holds the rules:
one receipt per payment, one receipt per (organization, number).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from payments.db import Base


class PaymentReceipt(Base):
    __tablename__ = "payment_receipts"
    __table_args__ = (
        Index("uq_payment_receipts_payment", "payment_id", unique=True),
        Index("uq_payment_receipts_number", "organization_id", "sequential_id", unique=True),
        Index("ix_payment_receipts_organization_created", "organization_id", "created_at"),
        CheckConstraint("sequential_id > 0", name="sequential_id_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), nullable=False)
    sequential_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    number: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PaymentReceiptCounter(Base):
    __tablename__ = "payment_receipt_counters"
    __table_args__ = (CheckConstraint("last_number >= 0", name="last_number_not_negative"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
