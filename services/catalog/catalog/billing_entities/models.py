"""Billing entities: organizational units that issue invoices, each with its legal details, numbering,
invoice settings and its own taxes (Lago's billing entities)."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Index, String, Text, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base
from catalog.organizations.models import InvoicingChoices, LegalDetails
from invora.db.base import OrganizationModel


class BillingEntity(LegalDetails, InvoicingChoices, OrganizationModel, Base):
    __tablename__ = "billing_entities"
    __table_args__ = (
        Index("uq_billing_entities_organization_code", "organization_id", "code", unique=True),
        # Lago: the oldest entity is the default, and the flag never moves
        Index("uq_billing_entities_default", "organization_id", unique=True, postgresql_where=text("is_default")),
        CheckConstraint("document_numbering IN ('per_customer', 'per_billing_entity')", name="document_numbering"),
        CheckConstraint("net_payment_term >= 0 AND invoice_grace_period >= 0", name="days_not_negative"),
    )

    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    document_numbering: Mapped[str] = mapped_column(String(20), nullable=False, server_default="per_customer")
    document_number_prefix: Mapped[str] = mapped_column(String(10), nullable=False)
    subscription_invoice_issuing_date_anchor: Mapped[str] = mapped_column(String(30), nullable=False,
                                                                          server_default="next_period_start")
    subscription_invoice_issuing_date_adjustment: Mapped[str] = mapped_column(
        String(30), nullable=False, server_default="align_with_finalization_date")
    eu_tax_management: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    logo_url: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(255))
    # the entity's own taxes, by code (the catalog's taxes); they replace the organization's defaults
    tax_codes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
