"""Payments: one row per charge attempt at a provider, or per manual payment.

The database holds the "never twice" rules: one live provider attempt per invoice (a partial unique
index), one row per provider payment id, and each attempt's idempotency key is unique and written
(committed) before the provider is called.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from payments.db import Base

LIVE_STATUSES = ("pending", "processing", "requires_action")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("uq_payments_one_live_attempt_per_invoice", "invoice_id", unique=True,
              postgresql_where=text("type = 'provider' AND payment_status IN ('pending', 'processing', "
                                    "'requires_action')")),
        Index("uq_payments_one_live_attempt_per_request", "payment_request_id", unique=True,
              postgresql_where=text("type = 'provider' AND payment_status IN ('pending', 'processing', "
                                    "'requires_action')")),
        Index("uq_payments_provider_payment_id", "payment_provider_id", "provider_payment_id", unique=True,
              postgresql_where=text("provider_payment_id IS NOT NULL")),
        Index("uq_payments_provider_order_id", "payment_provider_id", "provider_order_id", unique=True,
              postgresql_where=text("provider_order_id IS NOT NULL")),
        Index("uq_payments_idempotency_key", "organization_id", "idempotency_key", unique=True),
        Index("ix_payments_due", "next_attempt_at", postgresql_where=text("payment_status = 'pending'")),
        # the charger's claim: the connections with pending attempts (a skip scan), each one's oldest due ones, and
        # each one's leased (in flight) ones counted against its `PROVIDER_CONCURRENCY`
        Index("ix_payments_pending_by_provider", "payment_provider_id", "created_at",
              postgresql_where=text("payment_status = 'pending' AND type = 'provider'")),
        Index("ix_payments_leased_by_provider", "payment_provider_id", "lease_until",
              postgresql_where=text("payment_status = 'pending' AND type = 'provider' AND lease_until IS NOT NULL")),
        Index("ix_payments_organization_invoice", "organization_id", "invoice_id"),
        Index("ix_payments_invoice", "invoice_id", "payment_status"),
        Index("ix_payments_organization_customer", "organization_id", "external_customer_id", "created_at"),
        Index("ix_payments_unsettled", "next_attempt_at",
              postgresql_where=text("payment_status IN ('processing', 'requires_action')")),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("(invoice_id IS NULL) <> (payment_request_id IS NULL)", name="pays_one_payable"),
        CheckConstraint("(dispute_lost_at IS NULL) = (dispute_status IS DISTINCT FROM 'lost')",
                        name="dispute_lost_when_lost"),
        CheckConstraint("type IN ('manual', 'provider')", name="known_type"),
        CheckConstraint("payment_status IN ('pending', 'processing', 'requires_action', 'succeeded', 'failed', "
                        "'canceled')", name="known_status"),
        CheckConstraint("type = 'manual' OR payment_provider_id IS NOT NULL", name="provider_attempt_has_provider"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("invoices.id"))  # or a payment request:
    payment_request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_requests.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    type: Mapped[str] = mapped_column(String(10), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    payment_status: Mapped[str] = mapped_column(String(20), nullable=False)
    provider_status: Mapped[str] = mapped_column(String(50), nullable=False)
    reference: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    payment_provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_providers.id"))
    payment_provider_code: Mapped[str | None] = mapped_column(String(255))
    payment_provider_type: Mapped[str | None] = mapped_column(String(30))
    provider_customer_id: Mapped[str | None] = mapped_column(String(255))
    provider_payment_id: Mapped[str | None] = mapped_column(String(255))
    provider_order_id: Mapped[str | None] = mapped_column(String(255))  # Cashfree: the link's paid order
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    # the charger's bookkeeping: calls made (a call may have reached the provider: look it up before another),
    # the claim's lease, when to try next (a `processing|requires_action` payment: when the reconciler looks
    # it up next)
    calls: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failure_category: Mapped[str | None] = mapped_column(String(10))
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(String(1000))
    next_action: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    # a dispute of the charge (Stripe `charge.dispute.*`): the provider's id, its status (`needs_response`,
    # `under_review`, `won`, `lost`...), its reason; when it opened and when it was lost
    provider_dispute_id: Mapped[str | None] = mapped_column(String(255))
    dispute_status: Mapped[str | None] = mapped_column(String(30))
    dispute_reason: Mapped[str | None] = mapped_column(String(100))
    disputed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispute_lost_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_on: Mapped[date | None] = mapped_column(Date)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
