"""Lifetime usage (Lago): the amount each closed billing period billed, and per subscription the
historical amount a tenant declares plus the times progressive-billing thresholds were reached.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.add_column("billing_periods", sa.Column("usage_amount_cents", sa.BigInteger(), nullable=True))
    op.create_table(
        "lifetime_usages",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("organization_id", UUID, nullable=False),
        sa.Column("external_subscription_id", sa.String(255), nullable=False),
        sa.Column("external_historical_usage_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("thresholds_reached", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False),
        sa.UniqueConstraint("organization_id", "external_subscription_id", name="uq_lifetime_usages_subscription"),
    )


def downgrade() -> None:
    op.drop_table("lifetime_usages")
    op.drop_column("billing_periods", "usage_amount_cents")
