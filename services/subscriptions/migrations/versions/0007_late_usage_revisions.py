"""Revisions of a closed period's usage: what its snapshot counted, and whether events came in since.

`usage_events_count` is the number of events the period's rollups held when its usage was last
published (at the close, then at each revision). Ingestion sets `usage_revision_pending` when it
stores an event for a closed period; the scheduler re-publishes the period's usage
(`subscription.billing_period_usage_revised`) and checks each newly closed period once more after
a grace time, for an event whose transaction overlapped the close. Existing periods are taken as
checked.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("billing_periods", sa.Column("usage_events_count", sa.BigInteger(), nullable=True))
    op.add_column("billing_periods", sa.Column("usage_revision_pending", sa.Boolean(), server_default=sa.false(),
                                               nullable=False))
    op.add_column("billing_periods", sa.Column("usage_checked", sa.Boolean(), server_default=sa.false(),
                                               nullable=False))
    op.add_column("billing_periods", sa.Column("usage_revisions", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE billing_periods SET usage_checked = true")
    op.create_index("ix_billing_periods_usage_to_check", "billing_periods", ["created_at"],
                    postgresql_where=sa.text("usage_revision_pending OR NOT usage_checked"))


def downgrade() -> None:
    op.drop_index("ix_billing_periods_usage_to_check", table_name="billing_periods")
    for column in ("usage_revisions", "usage_checked", "usage_revision_pending", "usage_events_count"):
        op.drop_column("billing_periods", column)
