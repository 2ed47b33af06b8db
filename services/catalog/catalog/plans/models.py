"""Plans, their immutable versions, and the charges a version sells.

A `Plan` is the stable identity (code, names, metadata, entitlements). Its prices live in
`PlanVersion` rows that are written once and never updated: every change to a price writes a
new version, and the plan's current version is its latest one. Charge and fixed-charge rows
are immutable too; a version lists the rows it sells (`plan_version_charges`), so an unchanged
charge keeps its id across versions and a changed one gets a new row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base
from invora.db.base import OrganizationModel
from invora.ids import uuid7

_EMPTY_LIST = text("'[]'::jsonb")


class Plan(OrganizationModel, Base):
    __tablename__ = "plans"
    __table_args__ = (
        # an archived plan's code can be reused by a new plan; the archived one keeps its versions
        Index("uq_plans_organization_code", "organization_id", "code", unique=True,
              postgresql_where=text("deleted_at IS NULL")),
    )

    code: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    plan_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class _Immutable:
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PlanVersion(_Immutable, Base):
    __tablename__ = "plan_versions"
    __table_args__ = (Index("uq_plan_versions_plan_number", "plan_id", "number", unique=True),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    interval: Mapped[str] = mapped_column(String(16), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    trial_period: Mapped[Decimal | None] = mapped_column(Numeric())
    pay_in_advance: Mapped[bool] = mapped_column(Boolean, nullable=False)
    bill_charges_monthly: Mapped[bool | None] = mapped_column(Boolean)
    bill_fixed_charges_monthly: Mapped[bool | None] = mapped_column(Boolean)
    tax_codes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=_EMPTY_LIST)
    # {lago_id, amount_cents, invoice_display_name, tax_codes, created_at, updated_at}
    minimum_commitment: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # [{lago_id, threshold_display_name, amount_cents, recurring, created_at, updated_at}]
    usage_thresholds: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=_EMPTY_LIST)


class Charge(_Immutable, Base):
    """A usage-based price on a billable metric. Never updated: a changed price is a new row."""

    __tablename__ = "charges"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(255), nullable=False)
    billable_metric_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billable_metrics.id"), nullable=False,
                                                          index=True)
    billable_metric_code: Mapped[str] = mapped_column(String(255), nullable=False)
    charge_model: Mapped[str] = mapped_column(String(32), nullable=False)
    pay_in_advance: Mapped[bool] = mapped_column(Boolean, nullable=False)
    invoiceable: Mapped[bool] = mapped_column(Boolean, nullable=False)
    regroup_paid_fees: Mapped[str | None] = mapped_column(String(16))
    prorated: Mapped[bool] = mapped_column(Boolean, nullable=False)
    min_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String(255))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # [{lago_id, invoice_display_name, properties, values: {key: [value, ...]}}]
    filters: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=_EMPTY_LIST)
    tax_codes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=_EMPTY_LIST)


class FixedCharge(_Immutable, Base):
    """A recurring fixed price on an add-on (units × price). Never updated: a change is a new row."""

    __tablename__ = "fixed_charges"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(255), nullable=False)
    add_on_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("add_ons.id"), nullable=False, index=True)
    charge_model: Mapped[str] = mapped_column(String(32), nullable=False)
    pay_in_advance: Mapped[bool] = mapped_column(Boolean, nullable=False)
    prorated: Mapped[bool] = mapped_column(Boolean, nullable=False)
    units: Mapped[Decimal] = mapped_column(Numeric(), nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String(255))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    tax_codes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=_EMPTY_LIST)


class PlanVersionCharge(Base):
    __tablename__ = "plan_version_charges"

    plan_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan_versions.id"), primary_key=True)
    charge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("charges.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)


class PlanVersionFixedCharge(Base):
    __tablename__ = "plan_version_fixed_charges"

    plan_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan_versions.id"), primary_key=True)
    fixed_charge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fixed_charges.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)


class PlanEntitlement(OrganizationModel, Base):
    """A feature a plan grants, with a value per privilege. Not versioned: entitlements are not prices."""

    __tablename__ = "plan_entitlements"
    __table_args__ = (Index("uq_plan_entitlements_plan_feature", "plan_id", "feature_id", unique=True),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), nullable=False)
    feature_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("features.id"), nullable=False, index=True)
    privilege_values: Mapped[dict[str, Any]] = mapped_column(
        "values", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
