"""Customer credits owned by invoicing and what each invoice took from them: upgrade and termination credits, and
the credit part of a credit note (`reason` `credit_note`, `credit_note_id`; voided: `voided_at`, balance 0).

The database holds their invariants: one upgrade credit per terminated subscription (unique key), a
balance never below 0 nor above the credit, an application per (invoice, credit) of a positive amount.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicing.db import Base
from invora.db.base import OrganizationModel


class CustomerCredit(OrganizationModel, Base):
    """An amount (taxes included) the customer's next invoices consume, after taxes, oldest first."""

    __tablename__ = "customer_credits"
    __table_args__ = (
        # one credit per (subscription, reason): a redelivered plan change or termination credits nothing more
        Index("uq_customer_credits_subscription_reason", "organization_id", "subscription_id", "reason", unique=True),
        Index("ix_customer_credits_available", "organization_id", "customer_id", "created_at",
              postgresql_where=text("balance_cents > 0")),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("balance_cents >= 0 AND balance_cents <= amount_cents", name="balance_within_amount"),
        Index("uq_customer_credits_credit_note", "credit_note_id", unique=True,
              postgresql_where=text("credit_note_id IS NOT NULL")),
        CheckConstraint("reason IN ('upgrade', 'termination', 'credit_note')", name="reason"),
        CheckConstraint("(reason = 'credit_note') = (credit_note_id IS NOT NULL) AND "
                        "(reason = 'credit_note' OR (subscription_id IS NOT NULL AND source_fee_id IS NOT NULL))",
                        name="source"),
        CheckConstraint("voided_at IS NULL OR balance_cents = 0", name="voided_has_no_balance"),
    )

    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str] = mapped_column(String(20), nullable=False)
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source_invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    source_fee_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    credit_note_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("credit_notes.id"))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))


class InvoiceCredit(OrganizationModel, Base):
    """What one finalized invoice took from one credit (given back if the invoice is voided)."""

    __tablename__ = "invoice_credits"
    __table_args__ = (
        Index("uq_invoice_credits_invoice_credit", "invoice_id", "credit_id", unique=True),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("invoices.id", ondelete="CASCADE"),
                                                  nullable=False, index=True)
    credit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("customer_credits.id"),
                                                 nullable=False, index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
