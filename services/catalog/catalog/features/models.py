"""Features (capabilities a plan grants) and their typed privileges."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base
from invora.db.base import OrganizationModel
from invora.ids import uuid7


class Feature(OrganizationModel, Base):
    __tablename__ = "features"
    __table_args__ = (
        Index("uq_features_organization_code", "organization_id", "code", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
    )

    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    privileges: Mapped[list[FeaturePrivilege]] = relationship(
        back_populates="feature", order_by="FeaturePrivilege.created_at, FeaturePrivilege.id",
        cascade="all, delete-orphan", lazy="selectin",
    )


class FeaturePrivilege(Base):
    __tablename__ = "feature_privileges"
    __table_args__ = (Index("uq_feature_privileges_feature_code", "feature_id", "code", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    feature_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    value_type: Mapped[str] = mapped_column(String(16), nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    feature: Mapped[Feature] = relationship(back_populates="privileges")
