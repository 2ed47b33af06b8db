"""The charger's claim bounds each provider connection's calls in flight (`PROVIDER_CONCURRENCY`): it finds the
connections with pending attempts by a skip scan and reads each one's oldest due attempts on
`ix_payments_pending_by_provider` (connection, age), and counts each one's leased (in flight) attempts on
`ix_payments_leased_by_provider`. The claim no longer walks `ix_payments_pending_by_age` (0017), which goes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "payment_status = 'pending' AND type = 'provider'"


def upgrade() -> None:
    op.create_index("ix_payments_pending_by_provider", "payments", ["payment_provider_id", "created_at"],
                    postgresql_where=sa.text(PENDING))
    op.create_index("ix_payments_leased_by_provider", "payments", ["payment_provider_id", "lease_until"],
                    postgresql_where=sa.text(f"{PENDING} AND lease_until IS NOT NULL"))
    op.drop_index("ix_payments_pending_by_age", table_name="payments")


def downgrade() -> None:
    op.create_index("ix_payments_pending_by_age", "payments", ["created_at"], postgresql_where=sa.text(PENDING))
    op.drop_index("ix_payments_leased_by_provider", table_name="payments")
    op.drop_index("ix_payments_pending_by_provider", table_name="payments")
