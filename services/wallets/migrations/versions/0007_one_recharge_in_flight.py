"""Auto recharge: at most one pending (`threshold`) recharge per wallet, as a unique partial index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uq_wallet_transactions_recharge_in_flight", "wallet_transactions", ["wallet_id"], unique=True,
                    postgresql_where=sa.text("source = 'threshold' AND status = 'pending'"))


def downgrade() -> None:
    op.drop_index("uq_wallet_transactions_recharge_in_flight", table_name="wallet_transactions")
