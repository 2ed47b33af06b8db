"""The mapped base columns of a service's `customers` projection (`repository.BASE_COLUMNS` and timestamps).

    class Customer(CustomerProjectionColumns, Base):   # the service's Base (its own metadata)
        email: Mapped[str | None] = mapped_column(String(255))   # the service's own columns

Each service keeps its own table in its own database; this mixin keeps the shared part alike.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class CustomerProjectionColumns:
    __tablename__ = "customers"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        # Lago: one live customer per external id in an organization (a deleted one frees it)
        return (Index("uq_customers_organization_external_id", "organization_id", "external_id", unique=True,
                      postgresql_where=text("deleted_at IS NULL")),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)  # the customer's lago_id
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str | None] = mapped_column(String(3))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the last event applied (per-aggregate sequence): an older or repeated event changes nothing
    last_sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
