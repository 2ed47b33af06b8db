"""A subscription's lifetime usage record (Lago's `lifetime_usage`), one per external subscription id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from subscriptions.db import Base


class LifetimeUsage(Base):
    """`thresholds_reached` maps a threshold's amount (in cents, as text) to when it was first seen reached."""

    __tablename__ = "lifetime_usages"
    __table_args__ = (UniqueConstraint("organization_id", "external_subscription_id",
                                       name="uq_lifetime_usages_subscription"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_subscription_id: Mapped[str] = mapped_column(String(255), nullable=False)
    external_historical_usage_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                                                        server_default=text("0"))
    # progressive billing: the highest threshold amount whose crossing was published (each crossing once)
    progressive_billed_threshold_cents: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                                                    server_default=text("0"))
    thresholds_reached: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False,
                                                               server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
