"""Coupons (definitions only; applying them to customers belongs to the subscriptions service)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, text, true
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base
from invora.db.base import OrganizationModel
from invora.ids import uuid7


class Coupon(OrganizationModel, Base):
    __tablename__ = "coupons"
    __table_args__ = (
        Index("uq_coupons_organization_code", "organization_id", "code", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
    )

    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    coupon_type: Mapped[str] = mapped_column(String(16), nullable=False)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_currency: Mapped[str | None] = mapped_column(String(3))
    percentage_rate: Mapped[Decimal | None] = mapped_column(Numeric())
    reusable: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=true())
    frequency: Mapped[str] = mapped_column(String(16), nullable=False)
    frequency_duration: Mapped[int | None] = mapped_column(Integer)
    expiration: Mapped[str] = mapped_column(String(16), nullable=False)
    expiration_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    terminated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CouponTarget(Base):
    """A plan or a billable metric a coupon is limited to (one of the two per row)."""

    __tablename__ = "coupon_targets"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    coupon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coupons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id"), index=True)
    billable_metric_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("billable_metrics.id"), index=True)
