"""Progressive billing: the highest usage threshold amount already announced per subscription, so each
crossing publishes `subscription.usage_threshold_reached` once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lifetime_usages", sa.Column("progressive_billed_threshold_cents", sa.BigInteger(),
                                               server_default=sa.text("0"), nullable=False))
    op.create_check_constraint("ck_lifetime_usages_progressive_non_negative", "lifetime_usages",
                               "progressive_billed_threshold_cents >= 0")


def downgrade() -> None:
    op.drop_constraint("ck_lifetime_usages_progressive_non_negative", "lifetime_usages", type_="check")
    op.drop_column("lifetime_usages", "progressive_billed_threshold_cents")
