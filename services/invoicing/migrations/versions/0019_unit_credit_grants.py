"""Unit credits on period invoices: the projection of wallets' unit-credit grants (who holds them, of which
metric), so only those customers' invoices ask wallets for credited units.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unit_credit_grants",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("billable_metric_code", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expiration_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'voided', 'expired')", name=op.f("ck_unit_credit_grants_status")),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_unit_credit_grants")),
    )
    op.create_index("ix_unit_credit_grants_customer", "unit_credit_grants", ["organization_id", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_unit_credit_grants_customer", table_name="unit_credit_grants")
    op.drop_table("unit_credit_grants")
