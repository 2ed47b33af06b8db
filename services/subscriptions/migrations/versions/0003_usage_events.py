"""Usage events (idempotent per organization, external subscription id and transaction id), their
incremental rollups per subscription, metric, filter group and billing period, the billable
metrics cached from the catalog, and usage alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())
TIMESTAMPTZ = sa.DateTime(timezone=True)
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("organization_id", UUID, nullable=False),
        sa.Column("subscription_id", UUID, nullable=False),
        sa.Column("customer_id", UUID, nullable=False),
        sa.Column("external_subscription_id", sa.String(255), nullable=False),
        sa.Column("transaction_id", sa.String(255), nullable=False),
        sa.Column("code", sa.String(255), nullable=False),
        sa.Column("timestamp", TIMESTAMPTZ, nullable=False),
        sa.Column("properties", JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("precise_total_amount_cents", sa.Numeric(), nullable=True),
        sa.Column("period_start", TIMESTAMPTZ, nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False),
        sa.UniqueConstraint("organization_id", "external_subscription_id", "transaction_id",
                            name="uq_usage_events_transaction"),
    )
    op.create_index("ix_usage_events_subscription_code_time", "usage_events",
                    ["subscription_id", "code", "timestamp"])
    op.create_index("ix_usage_events_org_created", "usage_events", ["organization_id", "created_at"])
    op.create_table(
        "usage_rollups",
        sa.Column("subscription_id", UUID, primary_key=True),
        sa.Column("code", sa.String(255), primary_key=True),
        sa.Column("period_start", TIMESTAMPTZ, primary_key=True),
        sa.Column("group_key", sa.String(2000), primary_key=True),
        sa.Column("organization_id", UUID, nullable=False),
        sa.Column("events_count", sa.BigInteger(), nullable=False),
        sa.Column("value_sum", sa.Numeric(), nullable=False),
        sa.Column("value_max", sa.Numeric(), nullable=True),
        sa.Column("latest_value", sa.Numeric(), nullable=True),
        sa.Column("latest_at", TIMESTAMPTZ, nullable=True),
        sa.Column("weighted_moment", sa.Numeric(), nullable=False),
    )
    op.create_table(
        "cached_billable_metrics",
        sa.Column("organization_id", UUID, primary_key=True),
        sa.Column("metric_id", UUID, primary_key=True),
        sa.Column("code", sa.String(255), nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("fetched_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False),
    )


    op.create_table(
        "usage_alerts",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("organization_id", UUID, nullable=False),
        sa.Column("external_subscription_id", sa.String(255), nullable=False),
        sa.Column("code", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("alert_type", sa.String(64), nullable=False),
        sa.Column("billable_metric_code", sa.String(255), nullable=True),
        sa.Column("thresholds", JSONB, nullable=False),
        sa.Column("previous_value", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.Column("period_start", TIMESTAMPTZ, nullable=True),
        sa.Column("last_processed_at", TIMESTAMPTZ, nullable=True),
        sa.Column("created_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False),
        sa.UniqueConstraint("organization_id", "external_subscription_id", "code", name="uq_usage_alerts_code"),
    )


def downgrade() -> None:
    op.drop_table("usage_alerts")
    op.drop_table("cached_billable_metrics")
    op.drop_table("usage_rollups")
    op.drop_index("ix_usage_events_org_created", table_name="usage_events")
    op.drop_index("ix_usage_events_subscription_code_time", table_name="usage_events")
    op.drop_table("usage_events")
