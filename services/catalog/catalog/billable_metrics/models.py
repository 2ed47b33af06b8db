"""Billable metrics: what is measured and how events aggregate into units."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base
from invora.db.base import OrganizationModel


class BillableMetric(OrganizationModel, Base):
    __tablename__ = "billable_metrics"
    __table_args__ = (
        # a deleted metric's code can be reused; the deleted row stays for the plans that sold it
        Index("uq_billable_metrics_organization_code", "organization_id", "code", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
    )

    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    aggregation_type: Mapped[str] = mapped_column(String(32), nullable=False)
    field_name: Mapped[str | None] = mapped_column(String(255))
    recurring: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    rounding_function: Mapped[str | None] = mapped_column(String(8))
    rounding_precision: Mapped[int | None] = mapped_column(Integer)
    weighted_interval: Mapped[str | None] = mapped_column(String(16))
    expression: Mapped[str | None] = mapped_column(Text)
    filters: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
