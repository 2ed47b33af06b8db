"""Credit notes on finalized invoices and their items (one per credited fee).

The database holds their invariants: a number unique per organization and a sequence unique per invoice,
amounts never negative, `total = credit + refund + offset`, the refund split in parts (one per payment) that
add up to it, `total = sub_total + taxes`, the remaining
credit (`balance`) between 0 and the credited amount, an item's amount positive.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicing.db import Base
from invora.db.base import OrganizationModel

REASONS = ("duplicated_charge", "product_unsatisfactory", "order_change", "order_cancellation",
           "fraudulent_charge", "other")


class CreditNote(OrganizationModel, Base):
    __tablename__ = "credit_notes"
    __table_args__ = (
        Index("uq_credit_notes_invoice_sequence", "invoice_id", "sequential_id", unique=True),
        Index("uq_credit_notes_number", "organization_id", "number", unique=True),
        Index("ix_credit_notes_customer", "organization_id", "customer_id", "created_at"),
        CheckConstraint("sequential_id > 0", name="sequential_id_positive"),
        CheckConstraint("credit_amount_cents >= 0 AND refund_amount_cents >= 0 AND offset_amount_cents >= 0 "
                        "AND taxes_amount_cents >= 0 AND sub_total_excluding_taxes_amount_cents >= 0 "
                        "AND coupons_adjustment_amount_cents >= 0", name="amounts_not_negative"),
        CheckConstraint("total_amount_cents > 0", name="total_positive"),
        CheckConstraint("total_amount_cents = credit_amount_cents + refund_amount_cents + offset_amount_cents",
                        name="total_is_credit_refund_offset"),
        CheckConstraint("total_amount_cents = sub_total_excluding_taxes_amount_cents + taxes_amount_cents",
                        name="total_is_sub_total_and_taxes"),
        CheckConstraint("(credit_amount_cents = 0) = (credit_status IS NULL)", name="credit_status_when_credit"),
        CheckConstraint("(refund_amount_cents = 0) = (refund_status IS NULL)", name="refund_status_when_refund"),
        CheckConstraint("credit_status IS NULL OR credit_status IN ('available', 'consumed', 'voided')",
                        name="credit_status"),
        CheckConstraint("refund_status IS NULL OR refund_status IN ('pending', 'succeeded', 'failed')",
                        name="refund_status"),
        CheckConstraint("reason IN ('duplicated_charge', 'product_unsatisfactory', 'order_change', "
                        "'order_cancellation', 'fraudulent_charge', 'other')", name="reason"),
        CheckConstraint("metadata IS NULL OR (jsonb_typeof(metadata) = 'object' AND metadata <> '{}'::jsonb)",
                        name="metadata_object"),
        # one note for the unused advance fee of a terminated (or upgraded) subscription (migration 0026)
        Index("uq_credit_notes_terminated_subscription", "organization_id", "terminated_subscription_id",
              unique=True, postgresql_where=text("terminated_subscription_id IS NOT NULL")),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    sequential_id: Mapped[int] = mapped_column(Integer, nullable=False)
    number: Mapped[str] = mapped_column(String(80), nullable=False)
    issuing_date: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    credit_status: Mapped[str | None] = mapped_column(String(20))
    refund_status: Mapped[str | None] = mapped_column(String(20))
    total_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    credit_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    refund_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    offset_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    precise_taxes_amount_cents: Mapped[Decimal] = mapped_column(Numeric, nullable=False)
    taxes_rate: Mapped[Decimal] = mapped_column(Numeric, nullable=False)
    sub_total_excluding_taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    coupons_adjustment_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    applied_taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False,
                                                                server_default=text("'[]'::jsonb"))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Lago's key-value `metadata` (`invora.metadata`: ≤ 50 keys); none is NULL, never `{}`
    note_metadata: Mapped[dict[str, str | None] | None] = mapped_column("metadata", JSONB(none_as_null=True))
    # the subscription whose termination or upgrade credited its unused advance fee with this note (`unused.py`)
    terminated_subscription_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class CreditNoteRefund(OrganizationModel, Base):
    """One part of a note's refund: what is asked back of one payment of the invoice (payments refunds it with
    this row's id as idempotency key). A deferred trigger (migration 0023) keeps Σ parts = the note's
    `refund_amount_cents` at every commit."""

    __tablename__ = "credit_note_refunds"
    __table_args__ = (
        Index("uq_credit_note_refunds_note_payment", "credit_note_id", "payment_id", unique=True),
        Index("ix_credit_note_refunds_invoice", "invoice_id"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    )

    credit_note_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("credit_notes.id"),
                                                      nullable=False)
    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False)
    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)


class CreditNoteItem(OrganizationModel, Base):
    __tablename__ = "credit_note_items"
    __table_args__ = (
        Index("uq_credit_note_items_note_fee", "credit_note_id", "fee_id", unique=True),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    credit_note_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("credit_notes.id"),
                                                      nullable=False, index=True)
    fee_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("fees.id"), nullable=False, index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)


class InvoicePayment(Base):
    """What a succeeded payment paid of an invoice (from payments' `payment.succeeded`): the cap of refunds."""

    __tablename__ = "invoice_payments"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("invoices.id"), primary_key=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
