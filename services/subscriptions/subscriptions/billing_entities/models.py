"""The billing entity codes of each organization, projected from the catalog's `billing_entity.*` events."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from subscriptions.db import Base


class KnownBillingEntity(Base):
    """One of the catalog's billing entities: enough to check a customer's `billing_entity_code`."""

    __tablename__ = "known_billing_entities"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), primary_key=True)
    lago_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # the catalog's own timestamps: an older event never overwrites a newer one
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
