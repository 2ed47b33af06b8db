"""Usage events as received, their incremental rollups, and the billable metrics cached from the catalog."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from subscriptions.db import Base


class UsageEvent(Base):
    """One accepted event; (organization, external subscription id, transaction id) is unique (idempotency)."""

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_subscription_id", "transaction_id",
                         name="uq_usage_events_transaction"),
        Index("ix_usage_events_subscription_code_time", "subscription_id", "code", "timestamp"),
        Index("ix_usage_events_org_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    external_subscription_id: Mapped[str] = mapped_column(String(255), nullable=False)
    transaction_id: Mapped[str] = mapped_column(String(255), nullable=False)
    code: Mapped[str] = mapped_column(String(255), nullable=False)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    precise_total_amount_cents: Mapped[Decimal | None] = mapped_column(Numeric)
    # the full billing period the event counts in (its rollup bucket)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))


class UsageRollup(Base):
    """Running aggregates of one subscription's events for one metric, filter group, pricing group and
    billing period.

    Updated in the transaction that inserts the events, from the rows the insert actually created.
    `weighted_moment` is Σ value × epoch seconds, so a time-weighted sum over any period end is
    `end × value_sum − weighted_moment` without reading events. `unique_count` is the number of
    present values in `usage_unique_values`, `precise_sum` Σ `precise_total_amount_cents`.
    """

    __tablename__ = "usage_rollups"

    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(2000), primary_key=True)
    # the event's values for the pricing group keys of the charges on the metric ('' when none groups)
    pricing_group: Mapped[str] = mapped_column(Text, primary_key=True, server_default="")
    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    events_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    value_sum: Mapped[Decimal] = mapped_column(Numeric, nullable=False)
    value_max: Mapped[Decimal | None] = mapped_column(Numeric)
    latest_value: Mapped[Decimal | None] = mapped_column(Numeric)
    latest_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    weighted_moment: Mapped[Decimal] = mapped_column(Numeric, nullable=False)
    unique_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    precise_sum: Mapped[Decimal] = mapped_column(Numeric, nullable=False, server_default="0")


class UsageUniqueValue(Base):
    """One distinct value of a unique-count metric in a rollup bucket: present unless the latest event
    for it (by timestamp, then id) removed it. `usage_rollups.unique_count` counts the present ones."""

    __tablename__ = "usage_unique_values"

    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(2000), primary_key=True)
    pricing_group: Mapped[str] = mapped_column(Text, primary_key=True, server_default="")
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    present: Mapped[bool] = mapped_column(Boolean, nullable=False)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)


class CachedBillableMetric(Base):
    """A billable metric read from the catalog (what ingestion needs: aggregation, field, filters)."""

    __tablename__ = "cached_billable_metrics"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    metric_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
