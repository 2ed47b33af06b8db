"""The installation's webhook signing key, when none is configured (shared by every replica; encrypted at rest)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from invora.secrets.column import secret_column
from notifications.db import Base


class WebhookSigningKey(Base):
    __tablename__ = "webhook_signing_keys"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(20), nullable=False)
    private_key_pem: Mapped[str] = secret_column("webhook_signing_keys", "private_key_pem", nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
