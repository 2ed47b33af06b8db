"""The organization's settings: one row per organization, written by `PUT /organizations`.

The organization itself exists outside the suite (keys carry its id; no service keeps a user
table); until its first update it reads as the defaults below. Billing entities share the same
legal and invoicing columns (`LegalDetails`, `InvoicingChoices`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String, Text, func, text, true
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base


class LegalDetails:
    """Who issues the documents and where (Lago's address, legal and tax identification fields)."""

    legal_name: Mapped[str | None] = mapped_column(String(255))
    legal_number: Mapped[str | None] = mapped_column(String(255))
    tax_identification_number: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(Text)
    address_line1: Mapped[str | None] = mapped_column(String(255))
    address_line2: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(255))
    zipcode: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))


class InvoicingChoices:
    """What invoicing applies to the documents issued under these settings."""

    default_currency: Mapped[str] = mapped_column(String(3), nullable=False, server_default="USD")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    net_payment_term: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    invoice_grace_period: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    document_locale: Mapped[str] = mapped_column(String(10), nullable=False, server_default="en")
    invoice_footer: Mapped[str | None] = mapped_column(Text)
    finalize_zero_amount_invoice: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=true())
    email_settings: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))


class Organization(LegalDetails, InvoicingChoices, Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint("document_numbering IN ('per_customer', 'per_organization')", name="document_numbering"),
        CheckConstraint("net_payment_term >= 0 AND invoice_grace_period >= 0", name="days_not_negative"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    document_numbering: Mapped[str] = mapped_column(String(20), nullable=False, server_default="per_organization")
    document_number_prefix: Mapped[str] = mapped_column(String(10), nullable=False, server_default="INV")
    webhook_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(),
                                                 onupdate=func.now())
