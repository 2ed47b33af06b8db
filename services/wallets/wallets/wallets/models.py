"""Wallets: a customer's prepaid credits in one currency, at one rate, with their balances.

`balance_cents`, `credits_balance` and the consumed figures are written only by the ledger's
trigger (see `ledger/models.py` and migration 0003): the database refuses any other change.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invora.db.base import OrganizationModel
from wallets.db import Base

CREDITS = Numeric(30, 5)


class Wallet(OrganizationModel, Base):
    __tablename__ = "wallets"
    __table_args__ = (
        Index("uq_wallets_customer_code", "organization_id", "customer_id", "code", unique=True),
        Index("ix_wallets_organization_external_customer", "organization_id", "external_customer_id"),
        Index("ix_wallets_expiration", "expiration_at", postgresql_where=text("status = 'active'")),
        Index("ix_wallets_customer_active", "customer_id", postgresql_where=text("status = 'active'")),
        CheckConstraint("balance_cents >= 0", name="balance_not_negative"),
        CheckConstraint("credits_balance >= 0", name="credits_not_negative"),
        CheckConstraint("priority BETWEEN 1 AND 50", name="priority_range"),
        CheckConstraint("rate_amount > 0", name="rate_positive"),
        CheckConstraint("status IN ('active', 'terminated')", name="status_known"),
        # room for each row's next version on its page (a debit rewrites the row): migration 0013
        {"postgresql_with": {"fillfactor": 70}},
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("customers.id"), nullable=False)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    rate_amount: Mapped[Decimal] = mapped_column(Numeric(30, 12), nullable=False)
    priority: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="50")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    expiration_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    terminated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    invoice_requires_successful_payment: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    applies_to_fee_types: Mapped[list[str]] = mapped_column(ARRAY(String(50)), nullable=False, server_default="{}")
    applies_to_metric_codes: Mapped[list[str]] = mapped_column(ARRAY(String(255)), nullable=False,
                                                                server_default="{}")
    paid_top_up_min_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    paid_top_up_max_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    metadata_: Mapped[dict | None] = mapped_column("metadata", JSONB)
    recurring_transaction_rules: Mapped[list] = mapped_column(JSONB, nullable=False, server_default="[]")
    purchase_order_number: Mapped[str | None] = mapped_column(String(255))
    ongoing_usage_balance_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # maintained by the ledger trigger only
    balance_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    credits_balance: Mapped[Decimal] = mapped_column(CREDITS, nullable=False, server_default="0")
    consumed_credits: Mapped[Decimal] = mapped_column(CREDITS, nullable=False, server_default="0")
    consumed_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    last_balance_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_consumed_credit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
