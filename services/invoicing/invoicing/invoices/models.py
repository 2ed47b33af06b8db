"""Invoices, their fees and applied taxes, the number counters, and each organization's invoicing settings.

The database holds the money invariants: one invoice per (subscription, period, reason), one number per
organization, totals that add up (`CHECK`s), a number on every finalized or voided invoice.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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

# closed: a zero-amount invoice the organization (or customer) chose not to finalize (Lago's `closed`)
INVOICE_STATUSES = ("draft", "finalized", "voided", "failed", "pending", "closed")
PAYMENT_STATUSES = ("pending", "succeeded", "failed")
PREPAID_CREDITS_STATUSES = ("requested", "applied", "release_requested", "released")


class Invoice(OrganizationModel, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        # exactly one invoice per (subscription, period, reason): redelivered events and racing consumers
        Index("uq_invoices_subscription_period", "organization_id", "subscription_id", "period_start", "billing_reason",
              unique=True, postgresql_where=text("subscription_id IS NOT NULL AND source_key IS NULL")),
        # one invoice per idempotency key where (subscription, period, reason) is not one: an event paid in
        # advance, a usage threshold crossed
        Index("uq_invoices_source_key", "organization_id", "source_key", unique=True,
              postgresql_where=text("source_key IS NOT NULL")),
        Index("ix_invoices_progressive", "organization_id", "subscription_id", "period_start",
              postgresql_where=text("invoice_type = 'progressive_billing'")),
        Index("uq_invoices_number", "organization_id", "number", unique=True,
              postgresql_where=text("number IS NOT NULL")),
        # keyset pagination of GET /invoices: newest first, by customer and status
        Index("ix_invoices_list", "organization_id", "created_at", "id"),
        Index("ix_invoices_customer_list", "organization_id", "customer_id", "created_at", "id"),
        # GET /invoices?external_customer_id=…&statuses[]=…: the filters, then the keyset order (migration 0017)
        Index("ix_invoices_customer_status_list", "organization_id", "external_customer_id", "status", "created_at",
              "id"),
        Index("ix_invoices_due_drafts", "finalize_at", postgresql_where=text("status = 'draft'")),
        CheckConstraint(f"status IN {INVOICE_STATUSES}", name="status"),
        CheckConstraint(f"payment_status IN {PAYMENT_STATUSES}", name="payment_status"),
        CheckConstraint("payment_dispute_lost_at IS NULL OR status IN ('finalized', 'voided')",
                        name="dispute_lost_when_finalized"),
        CheckConstraint("status NOT IN ('finalized', 'voided') OR number IS NOT NULL", name="numbered"),
        CheckConstraint(
            "sub_total_excluding_taxes_amount_cents = fees_amount_cents - progressive_billing_credit_amount_cents"
            " - coupons_amount_cents", name="sub_total_excluding_taxes"),
        CheckConstraint(
            "sub_total_including_taxes_amount_cents = sub_total_excluding_taxes_amount_cents + taxes_amount_cents",
            name="sub_total_including_taxes"),
        CheckConstraint(
            "total_amount_cents = sub_total_including_taxes_amount_cents - credit_notes_amount_cents"
            " - prepaid_credit_amount_cents", name="total"),
        CheckConstraint("total_amount_cents >= 0 AND coupons_amount_cents >= 0 AND taxes_amount_cents >= 0",
                        name="non_negative"),
        # the prepaid-credits saga (invoicing/prepaid_credits): a pending invoice waits for wallets' answer,
        # and credits are only on an invoice whose request was answered
        CheckConstraint(f"prepaid_credits_status IS NULL OR prepaid_credits_status IN {PREPAID_CREDITS_STATUSES}",
                        name="prepaid_credits_status"),
        CheckConstraint("status <> 'pending' OR prepaid_credits_status = 'requested'", name="pending_awaits_credits"),
        CheckConstraint("prepaid_credit_amount_cents = 0 OR prepaid_credits_status IN ('applied', "
                        "'release_requested', 'released')", name="prepaid_credit_answered"),
        Index("ix_invoices_pending_credits", "prepaid_credits_requested_at",
              postgresql_where=text("status = 'pending'")),
        # credit notes' offsets (migration 0021): never negative, never more than the invoice's total
        CheckConstraint("offset_amount_cents >= 0 AND offset_amount_cents <= total_amount_cents",
                        name="offset_within_total"),
        CheckConstraint("total_paid_amount_cents >= 0", name="total_paid_not_negative"),
    )
    # set by the code in each change (no `onupdate`: an equal value would be replaced by now() and expire)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    external_subscription_id: Mapped[str | None] = mapped_column(String(255))
    billing_period_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    billing_reason: Mapped[str] = mapped_column(String(40), nullable=False)
    source_key: Mapped[str | None] = mapped_column(String(255))
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    invoice_type: Mapped[str] = mapped_column(String(40), nullable=False, server_default="subscription")
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    payment_status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="pending")
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    number: Mapped[str | None] = mapped_column(String(64))
    sequential_id: Mapped[int | None] = mapped_column(BigInteger)
    issuing_date: Mapped[date] = mapped_column(Date, nullable=False)
    payment_due_date: Mapped[date] = mapped_column(Date, nullable=False)
    net_payment_term: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    finalize_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fees_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    progressive_billing_credit_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                                                         server_default="0")
    coupons_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    sub_total_excluding_taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                                                        server_default="0")
    taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    sub_total_including_taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                                                        server_default="0")
    credit_notes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    prepaid_credit_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    total_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # Σ of the invoice's credit notes' `offset_amount_cents` (deducted from what is due, Lago's settlement)
    offset_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # Σ of what succeeded payments of this invoice alone paid (`invoice_payments`, from `payment.succeeded`)
    total_paid_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    payment_overdue: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    payment_dispute_lost_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version_number: Mapped[int] = mapped_column(Integer, nullable=False, server_default="4")
    metadata_items: Mapped[list[dict[str, Any]]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    error_details: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False,
                                                                server_default=text("'[]'::jsonb"))
    # what the invoice was computed from, so a draft can be refreshed and a failed one retried
    source: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the prepaid-credits saga: requested → applied (→ release_requested → released on void); NULL: not asked
    prepaid_credits_status: Mapped[str | None] = mapped_column(String(20))
    prepaid_credits_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Fee(OrganizationModel, Base):
    __tablename__ = "fees"
    __table_args__ = (
        Index("ix_fees_list", "organization_id", "created_at", "id"),
        # one fee per (subscription, charge, event) paid in advance: redeliveries insert nothing
        Index("uq_fees_pay_in_advance", "organization_id", "subscription_id", "charge_id", "event_transaction_id",
              unique=True, postgresql_where=text("event_transaction_id IS NOT NULL")),
        Index("ix_fees_not_invoiced", "organization_id", "subscription_id",
              postgresql_where=text("invoice_id IS NULL")),
        CheckConstraint("fee_type IN ('subscription', 'charge', 'fixed_charge', 'add_on', 'commitment', 'credit')",
                        name="fee_type"),
        CheckConstraint("taxes_amount_cents >= 0", name="taxes_non_negative"),
    )
    # set by the code in each change (no `onupdate`: an equal value would be replaced by now() and expire)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))

    # null: a fee paid in advance that no invoice carries (`invoiceable: false`)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True),
                                                         ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    event_transaction_id: Mapped[str | None] = mapped_column(String(255))
    fee_type: Mapped[str] = mapped_column(String(20), nullable=False)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    external_subscription_id: Mapped[str | None] = mapped_column(String(255))
    charge_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    charge_filter_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    fixed_charge_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    true_up_parent_fee_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    billable_metric_code: Mapped[str | None] = mapped_column(String(255))
    grouped_by: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    item: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String(255))
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    units: Mapped[Decimal] = mapped_column(Numeric, nullable=False)
    # Lago's `total_aggregated_units` when it differs from `units` (a weighted sum: Σ event values); NULL: units
    total_aggregated_units: Mapped[Decimal | None] = mapped_column(Numeric)
    events_count: Mapped[int | None] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    precise_amount_cents: Mapped[Decimal] = mapped_column(Numeric, nullable=False)
    unit_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    precise_unit_amount: Mapped[Decimal] = mapped_column(Numeric, nullable=False, server_default="0")
    precise_coupons_amount_cents: Mapped[Decimal] = mapped_column(Numeric, nullable=False, server_default="0")
    taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    taxes_precise_amount_cents: Mapped[Decimal] = mapped_column(Numeric, nullable=False, server_default="0")
    taxes_rate: Mapped[Decimal] = mapped_column(Numeric, nullable=False, server_default="0")
    applied_taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False,
                                                                server_default=text("'[]'::jsonb"))
    amount_details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    pay_in_advance: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    invoiceable: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    from_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    to_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="pending")
    description: Mapped[str | None] = mapped_column(Text)


class InvoiceAppliedTax(OrganizationModel, Base):
    """One tax rate of an invoice: the base it applied to and the amount, rounded once for the invoice."""

    __tablename__ = "invoice_applied_taxes"

    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("invoices.id", ondelete="CASCADE"),
                                                  nullable=False, index=True)
    tax_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    tax_code: Mapped[str] = mapped_column(String(255), nullable=False)
    tax_name: Mapped[str] = mapped_column(String(255), nullable=False)
    tax_description: Mapped[str | None] = mapped_column(Text)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(10, 5), nullable=False)
    fees_amount_cents: Mapped[Decimal] = mapped_column(Numeric, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)


class InvoiceNumberCounter(Base):
    """The last number given in one numbering scope (the organization, or one customer).

    Locked (`FOR UPDATE`) by the finalizing transaction and incremented there: a rolled-back
    finalization rolls its increment back too, so numbers have no gap and no duplicate.
    """

    __tablename__ = "invoice_number_counters"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # organization | customer:<uuid> | billing_entity:<uuid>
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class InvoicingSettings(Base):
    """What invoicing applies of the organization's settings: a projection of the catalog's `organization.updated`.

    No row: the organization has never been updated, and the defaults below (the catalog's) apply.
    """

    __tablename__ = "invoicing_settings"
    __table_args__ = (
        CheckConstraint("document_numbering IN ('per_customer', 'per_organization')", name="document_numbering"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    document_numbering: Mapped[str] = mapped_column(String(20), nullable=False, server_default="per_organization")
    document_number_prefix: Mapped[str] = mapped_column(String(20), nullable=False, server_default="INV")
    invoice_grace_period: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    net_payment_term: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    finalize_zero_amount_invoice: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    default_currency: Mapped[str] = mapped_column(String(3), nullable=False, server_default="USD")
    # who issues the organization's documents (name, legal name, address, tax id, e-mail: `ISSUER_FIELDS`)
    issuer: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    # the event's time: an older event never overwrites a newer one
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))


class BillingCheckViolation(OrganizationModel, Base):
    """A period that would be billed twice, or a gap before it: that customer's invoicing is parked."""

    __tablename__ = "billing_check_violations"

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # overlap | gap
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
