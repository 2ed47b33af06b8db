"""Webhook messages (one per event and organization), deliveries (one per receiving endpoint) and attempts.

A delivery is due when `status` is pending/retrying and `next_attempt_at` has passed. A
worker claims it by pushing `next_attempt_at` a lease ahead and stamping `claim_token`;
if the worker dies, the lease runs out and another claims it. A succeeded delivery is
never claimed again.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from invora.db.base import IdMixin
from notifications.db import Base

PENDING = "pending"  # no attempt yet
RETRYING = "retrying"  # failed at least once, another attempt scheduled
SUCCEEDED = "succeeded"
FAILED = "failed"  # no further automatic attempt (schedule exhausted, 410, endpoint disabled)
STATUSES = (PENDING, RETRYING, SUCCEEDED, FAILED)
DUE_STATUSES = (PENDING, RETRYING)


def _organization_id() -> Mapped[uuid.UUID]:
    # no index of its own: these tables are read by organization through composite indexes or by id
    return mapped_column(UUID(as_uuid=True), nullable=False)


class WebhookMessage(IdMixin, Base):
    """The body sent for one event, fixed when the event is consumed (every attempt sends these bytes)."""

    __tablename__ = "webhook_messages"

    organization_id: Mapped[uuid.UUID] = _organization_id()

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    event_type: Mapped[str] = mapped_column(String(200), nullable=False)
    object_type: Mapped[str] = mapped_column(String(100), nullable=False)
    aggregate_id: Mapped[str] = mapped_column(String(200), nullable=False)
    sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    correlation_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class WebhookDelivery(IdMixin, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status IN ('pending', 'retrying')")
        ),
        # one endpoint's due rows, oldest first: the worker's catch-up of an endpoint that has slots again
        Index(
            "ix_webhook_deliveries_endpoint_due", "endpoint_id", "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'retrying')"),
        ),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
        Index("ix_webhook_deliveries_organization_created", "organization_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID] = _organization_id()
    message_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhook_messages.id", ondelete="CASCADE"), nullable=False, index=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    event_type: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    attempt_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error_class: Mapped[str | None] = mapped_column(String(20))
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class WebhookAttempt(IdMixin, Base):
    __tablename__ = "webhook_attempts"

    organization_id: Mapped[uuid.UUID] = _organization_id()
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    attempt_number: Mapped[int] = mapped_column(Integer, nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error_class: Mapped[str | None] = mapped_column(String(20))  # dns connect tls timeout http ssrf_blocked
    error_message: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
