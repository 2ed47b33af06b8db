"""Credit applications: one row per invoice (the saga's idempotency key), with what each wallet paid."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from wallets.db import Base


class CreditApplication(Base):
    __tablename__ = "credit_applications"
    __table_args__ = (
        Index("ix_credit_applications_pending", "organization_id", "external_customer_id",
              postgresql_where=text("status = 'applied' AND settled_at IS NULL")),
        CheckConstraint("status IN ('applied', 'released')", name="status_known"),
        CheckConstraint("applied_amount_cents >= 0 AND released_amount_cents >= 0", name="amounts_not_negative"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    lago_invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    external_customer_id: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    requested_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    applied_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    released_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # the answer as published (credits.applied's payload), re-sent as is to a repeated request
    answer: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # when the invoice was paid (the credits stop being "pending"); no producer publishes it yet
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
