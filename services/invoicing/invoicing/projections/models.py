"""Local projections of other services' objects, kept from their events (never read from their databases).

- `customers`: what an invoice needs of its customer (currency, timezone, tax codes, net payment term,
  grace period, billing entity) and the customer object it renders;
- `plan_versions`: immutable catalog plan versions (prices, charges, taxes), keyed by version id;
- `taxes`, `coupons`, `add_ons`: the catalog's definitions by code;
- `billing_entities`: the catalog's billing entities (numbering, invoice settings, own taxes) by code.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, Numeric, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invoicing.db import Base


class CustomerProjection(Base):
    __tablename__ = "customers"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    tax_codes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    net_payment_term: Mapped[int | None] = mapped_column(Integer)
    invoice_grace_period: Mapped[int | None] = mapped_column(Integer)
    billing_entity_code: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class BillingEntityProjection(Base):
    """What invoicing applies of a billing entity (catalog's `billing_entity.*`) to its customers' invoices."""

    __tablename__ = "billing_entities"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    document_numbering: Mapped[str] = mapped_column(String(20), nullable=False)
    document_number_prefix: Mapped[str] = mapped_column(String(20), nullable=False)
    invoice_grace_period: Mapped[int] = mapped_column(Integer, nullable=False)
    net_payment_term: Mapped[int] = mapped_column(Integer, nullable=False)
    finalize_zero_amount_invoice: Mapped[bool] = mapped_column(Boolean, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    default_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    tax_codes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PlanVersionProjection(Base):
    """A plan version never changes once created: the first copy heard of is kept."""

    __tablename__ = "plan_versions"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    plan_code: Mapped[str] = mapped_column(String(255), nullable=False)
    plan_name: Mapped[str] = mapped_column(String(255), nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


class TaxProjection(Base):
    __tablename__ = "taxes"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(String)
    rate: Mapped[Decimal] = mapped_column(Numeric(10, 5), nullable=False)
    applied_to_organization: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))


class CouponProjection(Base):
    __tablename__ = "coupons"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))


class AddOnProjection(Base):
    __tablename__ = "add_ons"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
