"""Provider connections keep their provider's non-secret fields (Adyen's merchant account and live prefix,
Cashfree's client id...) in `settings`; secrets stay in the encrypted `secret_key` and `webhook_secret`.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payment_providers", sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()),
                                                 server_default=sa.text("'{}'::jsonb"), nullable=False))


def downgrade() -> None:
    op.drop_column("payment_providers", "settings")
