"""Indexes for the hot paths: a batch of credit applications locks the active wallets of its customers
(`wallets.customer_id`), and the credit view sums what is still pending per customer.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_wallets_customer_active", "wallets", ["customer_id"],
                    postgresql_where=sa.text("status = 'active'"))
    op.create_index("ix_credit_applications_pending", "credit_applications",
                    ["organization_id", "external_customer_id"],
                    postgresql_where=sa.text("status = 'applied' AND settled_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_credit_applications_pending", table_name="credit_applications")
    op.drop_index("ix_wallets_customer_active", table_name="wallets")
