"""Activity logs: one row per tenant-facing domain event of the suite (who changed what, when, and how)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invora.db.base import IdMixin
from notifications.db import Base


class ActivityLog(IdMixin, Base):
    """`id` is Lago's `activity_id`; `event_id` makes a redelivered event a no-op."""

    __tablename__ = "activity_logs"
    __table_args__ = (
        Index("ix_activity_logs_organization_logged", "organization_id", "logged_at"),
        Index("ix_activity_logs_logged", "logged_at"),  # the retention pass
        CheckConstraint("activity_source IN ('api', 'front', 'system')", name="ck_activity_logs_source"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    activity_type: Mapped[str] = mapped_column(String(200), nullable=False)
    activity_source: Mapped[str] = mapped_column(String(20), nullable=False)
    activity_object: Mapped[Any] = mapped_column(JSONB, nullable=True)
    activity_object_changes: Mapped[Any] = mapped_column(JSONB, nullable=True)
    user_email: Mapped[str | None] = mapped_column(String(320))
    resource_id: Mapped[str] = mapped_column(String(200), nullable=False)
    resource_type: Mapped[str] = mapped_column(String(100), nullable=False)
    external_customer_id: Mapped[str | None] = mapped_column(String(255))
    external_subscription_id: Mapped[str | None] = mapped_column(String(255))
    logged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
