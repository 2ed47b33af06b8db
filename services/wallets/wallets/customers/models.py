"""The customers projection: what wallets knows of the subscriptions service's customers (from `customer.*`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from wallets.db import Base


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # Lago: one live customer per external id in an organization (a deleted one frees it)
        Index("uq_customers_organization_external_id", "organization_id", "external_id", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)  # the customer's lago_id
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str | None] = mapped_column(String(3))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the last event applied (per-aggregate sequence): an older or repeated event changes nothing
    last_sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
