"""Subscriptions, the plan versions they pin, and the billing periods closed for them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, false, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invora.db.base import OrganizationModel
from subscriptions.db import Base

LIVE_STATUSES = ("pending", "active")


class Subscription(OrganizationModel, Base):
    """One subscription row per plan held; a plan change chains a new row with the same `external_id`."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        # one active subscription per external id (a downgrade's next plan waits as `pending`)
        Index("uq_subscriptions_active_external_id", "organization_id", "external_id", unique=True,
              postgresql_where=text("status = 'active'")),
        Index("ix_subscriptions_due", "status", "current_period_end"),
        Index("ix_subscriptions_org_external_id", "organization_id", "external_id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("customers.id"), nullable=False, index=True)
    external_customer_id: Mapped[str] = mapped_column(String(255), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    billing_time: Mapped[str] = mapped_column(String(20), nullable=False)
    plan_code: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    plan_version_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    plan_interval: Mapped[str] = mapped_column(String(20), nullable=False)
    plan_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    plan_amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    pay_in_advance: Mapped[bool] = mapped_column(nullable=False)
    trial_period_days: Mapped[str | None] = mapped_column(String(40))
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    plan_overrides: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    entitlement_overrides: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    removed_entitlements: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    on_termination_invoice: Mapped[str] = mapped_column(String(20), nullable=False, server_default="generate")
    on_termination_credit_note: Mapped[str | None] = mapped_column(String(20))
    purchase_order_number: Mapped[str | None] = mapped_column(String(255))
    subscription_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ending_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    terminated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    trial_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    trial_ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    previous_subscription_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    next_subscription_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    previous_plan_code: Mapped[str | None] = mapped_column(String(255))
    next_plan_code: Mapped[str | None] = mapped_column(String(255))
    downgrade_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the open billing period (set while active); the scheduler closes it once `current_period_end` passes
    current_period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BillingPeriod(OrganizationModel, Base):
    """A closed billing period: the unique (subscription, period_start) row makes closing exactly-once."""

    __tablename__ = "billing_periods"
    __table_args__ = (
        UniqueConstraint("subscription_id", "period_start"),
        Index("ix_billing_periods_usage_to_check", "created_at",
              postgresql_where=text("usage_revision_pending OR NOT usage_checked")),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("subscriptions.id"), nullable=False)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reason: Mapped[str] = mapped_column(String(20), nullable=False)  # period_end | termination | plan_change
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # the usage amount (before taxes) the closing snapshot priced; null when the plan was not cached
    usage_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    # events in the period's rollups when its usage was last published (close, then each revision)
    usage_events_count: Mapped[int | None] = mapped_column(BigInteger)
    # an event was stored for this period after it closed: its usage is to be published again
    usage_revision_pending: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    # checked once after the close, for events whose transaction overlapped it (see `usage.revisions`)
    usage_checked: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    usage_revisions: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class CachedPlanVersion(Base):
    """Plan versions read from the catalog. Versions never change, so a cached one is never stale."""

    __tablename__ = "cached_plan_versions"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    plan_version_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    plan_code: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))


class PlanEntitlementsProjection(Base):
    """A plan's entitlements (plan-level in the catalog, not versioned), as last read or heard of."""

    __tablename__ = "plan_entitlements"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    plan_code: Mapped[str] = mapped_column(String(255), nullable=False)
    entitlements: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    # when the catalog said so (read time, or the event's occurred_at): an older word never wins
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
