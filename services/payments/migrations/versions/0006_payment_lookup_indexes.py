"""Lookups by invoice: what an invoice still owes sums its payments and refunds by `invoice_id`
(every charge, manual payment and refund reads it), and the attempt counter counts its provider
payments; without these indexes each of those scanned the whole table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_payments_invoice", "payments", ["invoice_id", "payment_status"], unique=False)
    op.create_index("ix_refunds_invoice", "refunds", ["invoice_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refunds_invoice", table_name="refunds")
    op.drop_index("ix_payments_invoice", table_name="payments")
