"""Credit notes' offset part: what the invoice's notes deducted from its amount due, and what its own
payments paid (from `invoice_payments`), kept on the invoice so every rendering shows Lago's
`total_paid_amount_cents` and `total_due_amount_cents` without another query.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("offset_amount_cents", sa.BigInteger(), nullable=False, server_default="0"))
    op.add_column("invoices", sa.Column("total_paid_amount_cents", sa.BigInteger(), nullable=False,
                                        server_default="0"))
    op.execute("UPDATE invoices SET total_paid_amount_cents = paid.total FROM "
               "(SELECT invoice_id, SUM(amount_cents) AS total FROM invoice_payments GROUP BY invoice_id) AS paid "
               "WHERE paid.invoice_id = invoices.id")
    op.create_check_constraint(op.f("ck_invoices_offset_within_total"), "invoices",
                               "offset_amount_cents >= 0 AND offset_amount_cents <= total_amount_cents")
    op.create_check_constraint(op.f("ck_invoices_total_paid_not_negative"), "invoices",
                               "total_paid_amount_cents >= 0")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_invoices_total_paid_not_negative"), "invoices", type_="check")
    op.drop_constraint(op.f("ck_invoices_offset_within_total"), "invoices", type_="check")
    op.drop_column("invoices", "total_paid_amount_cents")
    op.drop_column("invoices", "offset_amount_cents")
