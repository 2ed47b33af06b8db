"""A fee's `total_aggregated_units` when it is not its units (a weighted sum: the sum of event values, Lago's).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("fees", sa.Column("total_aggregated_units", sa.Numeric(), nullable=True))


def downgrade() -> None:
    op.drop_column("fees", "total_aggregated_units")
