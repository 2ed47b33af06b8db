"""Coupons applied to customers: what is left of each (amount, periods), consumed by invoices oldest first."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, Numeric, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicing.db import Base
from invora.db.base import OrganizationModel


class AppliedCoupon(OrganizationModel, Base):
    __tablename__ = "applied_coupons"
    __table_args__ = (
        Index("ix_applied_coupons_customer", "organization_id", "customer_id", "status", "created_at"),
        CheckConstraint("status IN ('active', 'terminated')", name="status"),
        CheckConstraint("amount_cents_remaining IS NULL OR amount_cents_remaining >= 0", name="remaining"),
        CheckConstraint("frequency_duration_remaining IS NULL OR frequency_duration_remaining >= 0",
                        name="periods_remaining"),
    )
    # set by the code in each change (no `onupdate`: an equal value would be replaced by now() and expire)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))

    coupon_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    coupon_code: Mapped[str] = mapped_column(String(255), nullable=False)
    coupon_name: Mapped[str] = mapped_column(String(255), nullable=False)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    coupon_type: Mapped[str] = mapped_column(String(20), nullable=False)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_cents_remaining: Mapped[int | None] = mapped_column(BigInteger)
    amount_currency: Mapped[str | None] = mapped_column(String(3))
    percentage_rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 5))
    frequency: Mapped[str] = mapped_column(String(20), nullable=False)
    frequency_duration: Mapped[int | None] = mapped_column(Integer)
    frequency_duration_remaining: Mapped[int | None] = mapped_column(Integer)
    expiration_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    plan_codes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    billable_metric_codes: Mapped[list[str]] = mapped_column(JSONB, nullable=False,
                                                             server_default=text("'[]'::jsonb"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    terminated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
