"""API logs: one row per mutating API request of the suite, from the services' `api_log.recorded` events."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from invora.db.base import IdMixin
from notifications.db import Base


class ApiLog(IdMixin, Base):
    """`request_id` is Lago's: unique per organization; `event_id` makes a redelivered event a no-op."""

    __tablename__ = "api_logs"
    __table_args__ = (
        Index("ix_api_logs_organization_logged", "organization_id", "logged_at"),
        Index("ix_api_logs_logged", "logged_at"),
        Index("uq_api_logs_organization_request", "organization_id", "request_id", unique=True),
        CheckConstraint("http_status BETWEEN 100 AND 599", name="ck_api_logs_status"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    request_id: Mapped[str] = mapped_column(String(128), nullable=False)
    service: Mapped[str] = mapped_column(String(50), nullable=False)
    api_version: Mapped[str] = mapped_column(String(10), nullable=False)
    client: Mapped[str] = mapped_column(Text, nullable=False)
    principal: Mapped[str | None] = mapped_column(Text)
    http_method: Mapped[str] = mapped_column(String(10), nullable=False)
    http_status: Mapped[int] = mapped_column(Integer, nullable=False)
    request_path: Mapped[str] = mapped_column(Text, nullable=False)
    request_origin: Mapped[str] = mapped_column(Text, nullable=False)
    request_body: Mapped[str] = mapped_column(Text, nullable=False)
    logged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
