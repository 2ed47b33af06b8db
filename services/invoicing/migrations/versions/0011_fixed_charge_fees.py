"""Fees of fixed charges: the `fixed_charge` fee type and the fixed charge a fee bills.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "fee_type IN ('subscription', 'charge', 'add_on', 'commitment', 'credit')"
NEW = "fee_type IN ('subscription', 'charge', 'fixed_charge', 'add_on', 'commitment', 'credit')"


def upgrade() -> None:
    op.add_column("fees", sa.Column("fixed_charge_id", sa.UUID(), nullable=True))
    op.drop_constraint(op.f("ck_fees_fee_type"), "fees", type_="check")
    op.create_check_constraint(op.f("ck_fees_fee_type"), "fees", NEW)


def downgrade() -> None:
    op.execute("DELETE FROM fees WHERE fee_type = 'fixed_charge'")
    op.drop_constraint(op.f("ck_fees_fee_type"), "fees", type_="check")
    op.create_check_constraint(op.f("ck_fees_fee_type"), "fees", OLD)
    op.drop_column("fees", "fixed_charge_id")
