"""The charger's claim (pending provider attempts, oldest first, `LIMIT` its free call slots) walks an index in
`created_at` order and stops at its limit: without it every claim read and sorted every pending attempt (3 ms a
claim with 10,000 queued, growing with the queue).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_payments_pending_by_age", "payments", ["created_at"],
                    postgresql_where=sa.text("payment_status = 'pending' AND type = 'provider'"))


def downgrade() -> None:
    op.drop_index("ix_payments_pending_by_age", table_name="payments")
