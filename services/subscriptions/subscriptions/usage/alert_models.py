"""Usage alerts on subscriptions (Lago's `alerts`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from subscriptions.db import Base


class UsageAlert(Base):
    """`previous_value` is the value last evaluated in the period that starts at `period_start`."""

    __tablename__ = "usage_alerts"
    __table_args__ = (UniqueConstraint("organization_id", "external_subscription_id", "code",
                                       name="uq_usage_alerts_code"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_subscription_id: Mapped[str] = mapped_column(String(255), nullable=False)
    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    alert_type: Mapped[str] = mapped_column(String(64), nullable=False)
    billable_metric_code: Mapped[str | None] = mapped_column(String(255))
    thresholds: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    previous_value: Mapped[Decimal] = mapped_column(Numeric, nullable=False, server_default=text("0"))
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
