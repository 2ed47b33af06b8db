"""Wallet alerts: `wallet_alerts` (thresholds on a wallet's balance, code unique per wallet).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_alerts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("wallet_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("alert_type", sa.String(length=64), nullable=False),
        sa.Column("thresholds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("previous_value", sa.Numeric(30, 5), nullable=False),
        sa.Column("last_processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "alert_type IN ('wallet_balance_amount', 'wallet_credits_balance', "
            "'wallet_ongoing_balance_amount', 'wallet_credits_ongoing_balance')",
            name=op.f("ck_wallet_alerts_alert_type_known")),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"], name=op.f("fk_wallet_alerts_wallet_id_wallets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_alerts")),
        sa.UniqueConstraint("wallet_id", "code", name="uq_wallet_alerts_code"),
    )


def downgrade() -> None:
    op.drop_table("wallet_alerts")
