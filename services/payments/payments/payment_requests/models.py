"""Payment requests: a customer's unpaid invoices bundled into one amount, charged once (or paid by hand).

`payment_request_invoices` keeps what the request asks of each invoice (what it owed then); a succeeded
payment of the request pays each invoice that amount. One live provider attempt per request (a partial
unique index on `payments.payment_request_id`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from payments.db import Base


class PaymentRequest(Base):
    __tablename__ = "payment_requests"
    __table_args__ = (
        Index("ix_payment_requests_organization_created", "organization_id", "created_at"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("payment_status IN ('pending', 'succeeded', 'failed')", name="known_status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    payment_status: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PaymentRequestInvoice(Base):
    __tablename__ = "payment_request_invoices"
    __table_args__ = (
        Index("ix_payment_request_invoices_invoice", "invoice_id"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    payment_request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment_requests.id"), primary_key=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
