"""Credit notes' offsets (invoicing's `credit_note.created` with `offset_amount_cents`): what they deducted from
an invoice's amount due, once per credit note.

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
    op.create_table(
        "invoice_offsets",
        sa.Column("credit_note_id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_invoice_offsets_amount_positive")),
        sa.PrimaryKeyConstraint("credit_note_id", name=op.f("pk_invoice_offsets")),
    )
    op.create_index(op.f("ix_invoice_offsets_invoice_id"), "invoice_offsets", ["invoice_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_invoice_offsets_invoice_id"), table_name="invoice_offsets")
    op.drop_table("invoice_offsets")
