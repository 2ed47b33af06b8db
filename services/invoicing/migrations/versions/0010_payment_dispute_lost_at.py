"""An invoice whose payment dispute was lost (Lago's `payment_dispute_lost_at`): set by
`POST /invoices/{id}/lose_dispute` or by payments' `payment.dispute_lost`, once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("payment_dispute_lost_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f("ck_invoices_dispute_lost_when_finalized"), "invoices",
                               "payment_dispute_lost_at IS NULL OR status IN ('finalized', 'voided')")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_invoices_dispute_lost_when_finalized"), "invoices", type_="check")
    op.drop_column("invoices", "payment_dispute_lost_at")
