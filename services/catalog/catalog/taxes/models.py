"""Taxes: a named rate (percent) that plans, charges and add-ons refer to by code."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, Index, Numeric, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base
from invora.db.base import OrganizationModel


class Tax(OrganizationModel, Base):
    __tablename__ = "taxes"
    __table_args__ = (Index("uq_taxes_organization_code", "organization_id", "code", unique=True),)

    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    rate: Mapped[Decimal] = mapped_column(Numeric(), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    applied_to_organization: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
