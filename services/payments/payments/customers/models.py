"""Customers as payments knows them: a projection of `customer.*` events, and their link to providers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from invora.customer_projection.models import CustomerProjectionColumns
from payments.db import Base


class Customer(CustomerProjectionColumns, Base):
    """The shared base columns (`invora.customer_projection`) and what payments adds."""

    email: Mapped[str | None] = mapped_column(String(255))
    # billing_configuration: which provider connection charges this customer, and a provider customer
    # id given by the tenant (an existing Stripe customer), if any
    payment_provider: Mapped[str | None] = mapped_column(String(30))
    payment_provider_code: Mapped[str | None] = mapped_column(String(255))
    provider_customer_id: Mapped[str | None] = mapped_column(String(255))


class ProviderCustomer(Base):
    """The customer at one provider connection: created on demand, once (unique per customer and connection)."""

    __tablename__ = "provider_customers"
    __table_args__ = (UniqueConstraint("customer_id", "payment_provider_id", name="uq_provider_customers_link"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), nullable=False)
    payment_provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment_providers.id"), nullable=False)
    provider_customer_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
