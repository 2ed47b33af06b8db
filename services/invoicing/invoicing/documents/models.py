"""Rendered documents (PDF) of invoices and credit notes, kept once per resource.

The primary key is the resource's id (an invoice's or credit note's `lago_id`, UUIDv7: unique across both), so
a resource has one document whoever renders it first (the background consumer or a download racing it): the
insert is `ON CONFLICT DO NOTHING` and only the winner publishes `*.generated`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicing.db import Base

RESOURCE_TYPES = ("invoice", "credit_note")


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("resource_type IN ('invoice', 'credit_note')", name="resource_type"),
        CheckConstraint("octet_length(content) > 0", name="content_not_empty"),
    )

    resource_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    resource_type: Mapped[str] = mapped_column(String(20), nullable=False)
    file_name: Mapped[str] = mapped_column(String(300), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
