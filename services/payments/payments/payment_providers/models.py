"""Provider connections: one organization's credentials for one provider, under a code."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invora.secrets.column import secret_column
from payments.db import Base


class PaymentProvider(Base):
    __tablename__ = "payment_providers"
    __table_args__ = (
        Index("uq_payment_providers_organization_code", "organization_id", "code", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    provider_type: Mapped[str] = mapped_column(String(30), nullable=False)
    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    secret_key: Mapped[str] = secret_column("payment_providers", "secret_key", nullable=False)
    webhook_secret: Mapped[str | None] = secret_column("payment_providers", "webhook_secret", nullable=True)
    success_redirect_url: Mapped[str | None] = mapped_column(String(1024))
    # the provider's non-secret fields (Adyen's merchant account and live prefix...)
    settings: Mapped[dict[str, str]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"),
                                                     default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def connection(self) -> dict:
        """What an adapter is built from (`AdapterFactory.for_connection`): the decrypted credentials and the
        provider's settings, read while the row is loaded (no provider is called inside a transaction)."""
        return {"id": self.id, "code": self.code, "name": self.name, "provider_type": self.provider_type,
                "secret_key": self.secret_key, "webhook_secret": self.webhook_secret,
                "settings": dict(self.settings or {}), "success_redirect_url": self.success_redirect_url,
                "updated_at": self.updated_at}
