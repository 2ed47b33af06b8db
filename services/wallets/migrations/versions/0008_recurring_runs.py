"""Recurring top-ups: `recurring_runs`, one row per (wallet, interval rule, due time) made.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recurring_runs",
        sa.Column("wallet_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"], name=op.f("fk_recurring_runs_wallet_id_wallets")),
        sa.PrimaryKeyConstraint("wallet_id", "rule_id", "due_at", name=op.f("pk_recurring_runs")),
    )


def downgrade() -> None:
    op.drop_table("recurring_runs")
