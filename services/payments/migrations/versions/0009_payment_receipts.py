"""Payment receipts (Lago's `/payment_receipts`): one per succeeded payment, numbered gaplessly per
organization from a counter row locked by the transaction that issues the receipt.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_receipt_counters",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("last_number >= 0", name=op.f("ck_payment_receipt_counters_last_number_not_negative")),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_payment_receipt_counters")),
    )
    op.create_table(
        "payment_receipts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("sequential_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("sequential_id > 0", name=op.f("ck_payment_receipts_sequential_id_positive")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_payment_receipts_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_receipts")),
    )
    op.create_index("uq_payment_receipts_payment", "payment_receipts", ["payment_id"], unique=True)
    op.create_index("uq_payment_receipts_number", "payment_receipts", ["organization_id", "sequential_id"],
                    unique=True)
    op.create_index("ix_payment_receipts_organization_created", "payment_receipts", ["organization_id", "created_at"])


def downgrade() -> None:
    op.drop_table("payment_receipts")
    op.drop_table("payment_receipt_counters")
