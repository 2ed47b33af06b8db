"""Customers: who is billed, in which currency and timezone, and their billing state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from invora.db.base import OrganizationModel
from subscriptions.db import Base


class Customer(OrganizationModel, Base):
    __tablename__ = "customers"
    __table_args__ = (
        # external ids are unique among live customers; a deleted customer's id can be reused
        Index("uq_customers_live_external_id", "organization_id", "external_id", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
        UniqueConstraint("organization_id", "sequential_id"),
    )

    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    sequential_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    firstname: Mapped[str | None] = mapped_column(String(255))
    lastname: Mapped[str | None] = mapped_column(String(255))
    legal_name: Mapped[str | None] = mapped_column(String(255))
    legal_number: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(Text)
    billing_email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    logo_url: Mapped[str | None] = mapped_column(Text)
    address_line1: Mapped[str | None] = mapped_column(String(255))
    address_line2: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(255))
    zipcode: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    timezone: Mapped[str | None] = mapped_column(String(64))
    tax_identification_number: Mapped[str | None] = mapped_column(String(255))
    tax_codes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    account_type: Mapped[str] = mapped_column(String(20), nullable=False, server_default="customer")
    customer_type: Mapped[str | None] = mapped_column(String(20))
    net_payment_term: Mapped[int | None] = mapped_column(Integer)
    invoice_grace_period: Mapped[int | None] = mapped_column(Integer)
    finalize_zero_amount_invoice: Mapped[str] = mapped_column(String(20), nullable=False, server_default="inherit")
    skip_invoice_custom_sections: Mapped[bool] = mapped_column(nullable=False, server_default=text("false"))
    purchase_order_number: Mapped[str | None] = mapped_column(String(255))
    billing_entity_code: Mapped[str | None] = mapped_column(String(255))
    billing_configuration: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    # [{"lago_id", "key", "value", "display_in_invoice", "created_at"}]
    metadata_items: Mapped[list[dict[str, Any]]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # billing state (operations brief): dunning moves it; billing admins may override it
    billing_state: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    contract_mode: Mapped[str] = mapped_column(String(20), nullable=False, server_default="standard")
    grace_extension_days: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    billing_state_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
