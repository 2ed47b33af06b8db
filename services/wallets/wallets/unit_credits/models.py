"""Unit credits: grants of a billable metric's units (blocks) and their append-only double-entry ledger.

The database's rules (migration 0010): entries are append-only; each movement sums to zero at commit;
a `grant` leg moves its grant's `remaining_units` in the same statement, which CHECKs keep between
zero and the units granted, and which nothing else may change.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from wallets.db import Base

UNITS = Numeric(30, 5)


class UnitCreditGrant(Base):
    __tablename__ = "unit_credit_grants"
    __table_args__ = (
        Index("ix_unit_credit_grants_customer_metric", "organization_id", "customer_id", "billable_metric_code",
              postgresql_where=text("status = 'active'")),
        Index("ix_unit_credit_grants_expiration", "expiration_at", postgresql_where=text("status = 'active'")),
        CheckConstraint("units > 0", name="units_positive"),
        CheckConstraint("remaining_units >= 0 AND remaining_units <= units", name="remaining_within_grant"),
        CheckConstraint("priority BETWEEN 1 AND 50", name="priority_range"),
        CheckConstraint("status IN ('active', 'voided', 'expired')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("customers.id"), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    billable_metric_code: Mapped[str] = mapped_column(String(255), nullable=False)
    units: Mapped[Decimal] = mapped_column(UNITS, nullable=False)
    remaining_units: Mapped[Decimal] = mapped_column(UNITS, nullable=False, server_default="0")
    priority: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="50")
    expiration_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(2000), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(2000))
    actor: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class UnitCreditEntry(Base):
    __tablename__ = "unit_credit_entries"
    __table_args__ = (
        Index("ix_unit_credit_entries_movement", "movement_id"),
        Index("ix_unit_credit_entries_invoice", "invoice_id", postgresql_where=text("invoice_id IS NOT NULL")),
        CheckConstraint("kind IN ('grant', 'consumption', 'reversal', 'void', 'expiry')", name="kind_known"),
        CheckConstraint("account IN ('grant', 'granted', 'consumed', 'voided', 'expired')", name="account_known"),
        CheckConstraint("(account = 'grant') = (grant_id IS NOT NULL)", name="grant_leg_names_its_grant"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    movement_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    account: Mapped[str] = mapped_column(String(20), nullable=False)
    grant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("unit_credit_grants.id"))
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    units: Mapped[Decimal] = mapped_column(UNITS, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class UnitCreditApplication(Base):
    """An invoice's use of a metric's unit credits: the key that makes applying (and releasing) happen once."""

    __tablename__ = "unit_credit_applications"
    __table_args__ = (
        CheckConstraint("applied_units >= 0 AND applied_units <= requested_units", name="applied_within_request"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    billable_metric_code: Mapped[str] = mapped_column(String(255), primary_key=True)
    requested_units: Mapped[Decimal] = mapped_column(UNITS, nullable=False)
    applied_units: Mapped[Decimal] = mapped_column(UNITS, nullable=False)
    released_units: Mapped[Decimal | None] = mapped_column(UNITS)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
