"""The per-endpoint due index: an endpoint's due deliveries, oldest first.

The delivery worker reads it to catch up an endpoint that has slots again after being at its
cap, instead of searching every due row (the blocked endpoint's whole backlog) on each claim.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_endpoint_due", "webhook_deliveries", ["endpoint_id", "next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'retrying')"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_endpoint_due", table_name="webhook_deliveries")
