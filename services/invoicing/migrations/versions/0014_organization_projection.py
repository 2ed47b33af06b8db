"""Invoicing settings become the projection of the catalog's `organization.updated` (the catalog owns them now):
`finalize_zero_amount_invoice`, `timezone` and `default_currency` join them; invoices gain the `closed` status
(a zero-amount invoice not finalized, as Lago's).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_OLD = "('draft', 'finalized', 'voided', 'failed', 'pending')"
_NEW = "('draft', 'finalized', 'voided', 'failed', 'pending', 'closed')"


def upgrade() -> None:
    op.add_column("invoicing_settings", sa.Column("finalize_zero_amount_invoice", sa.Boolean(),
                                                  server_default=sa.text("true"), nullable=False))
    op.add_column("invoicing_settings", sa.Column("timezone", sa.String(length=64), server_default="UTC",
                                                  nullable=False))
    op.add_column("invoicing_settings", sa.Column("default_currency", sa.String(length=3), server_default="USD",
                                                  nullable=False))
    op.drop_constraint(op.f("ck_invoices_status"), "invoices", type_="check")
    op.create_check_constraint(op.f("ck_invoices_status"), "invoices", f"status IN {_NEW}")


def downgrade() -> None:
    # a closed invoice has no number: back to a draft nobody will finalize (finalize_at cleared)
    op.execute("UPDATE invoices SET status = 'draft', finalize_at = NULL WHERE status = 'closed'")
    op.drop_constraint(op.f("ck_invoices_status"), "invoices", type_="check")
    op.create_check_constraint(op.f("ck_invoices_status"), "invoices", f"status IN {_OLD}")
    for column in ("default_currency", "timezone", "finalize_zero_amount_invoice"):
        op.drop_column("invoicing_settings", column)
