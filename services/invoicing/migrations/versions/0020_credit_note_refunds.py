"""Credit notes' refund part: what payments paid of each invoice (the refund cap) and the payment a note's
refund is asked of.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invoice_payments",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_invoice_payments_amount_positive")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_payments_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("organization_id", "invoice_id", "payment_id", name=op.f("pk_invoice_payments")),
    )
    op.add_column("credit_notes", sa.Column("refund_payment_id", sa.UUID(), nullable=True))
    op.create_check_constraint(op.f("ck_credit_notes_refund_payment_when_refund"), "credit_notes",
                               "(refund_amount_cents = 0) = (refund_payment_id IS NULL)")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_credit_notes_refund_payment_when_refund"), "credit_notes", type_="check")
    op.drop_column("credit_notes", "refund_payment_id")
    op.drop_table("invoice_payments")
