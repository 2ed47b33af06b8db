"""Webhook endpoints: where an organization wants its events sent, and how they are signed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from invora.db.base import OrganizationModel
from invora.secrets.column import secret_column
from notifications.db import Base


class WebhookEndpoint(OrganizationModel, Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("organization_id", "webhook_url"),)

    webhook_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    signature_algo: Mapped[str] = mapped_column(String(10), nullable=False)  # hmac | jwt
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    # NULL: every event type; [] receives nothing; else exact types and `prefix.*` patterns
    event_types: Mapped[list[str] | None] = mapped_column(ARRAY(String(200)))
    rate_limit_per_second: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(String(50))  # manual | gone | failing
    # the signing secret; during a rotation the previous one keeps signing until it expires. Both are
    # encrypted at rest (invora.secrets): plaintext here, ciphertext in the table
    secret: Mapped[str] = secret_column("webhook_endpoints", "secret", nullable=False)
    previous_secret: Mapped[str | None] = secret_column("webhook_endpoints", "previous_secret", nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # start of the current run of failed attempts (NULL after any success): the disable rule's clock
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # set from the service clock on every change (no server-side onupdate that would expire it after a flush)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    def live_secrets(self, now: datetime) -> list[str]:
        return live_secrets(self.secret, self.previous_secret, self.previous_secret_expires_at, now)


def live_secrets(
    secret: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The secrets that sign at `now`: the current one, then the rotated-out one within its overlap."""
    if previous and previous_expires_at is not None and previous_expires_at > now:
        return [secret, previous]
    return [secret]
