"""Customer credits also come from terminations (the unused days of a fee paid in advance).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_customer_credits_reason"), "customer_credits", type_="check")
    op.create_check_constraint(op.f("ck_customer_credits_reason"), "customer_credits",
                               "reason IN ('upgrade', 'termination')")


def downgrade() -> None:
    op.execute("DELETE FROM invoice_credits WHERE credit_id IN "
               "(SELECT id FROM customer_credits WHERE reason = 'termination')")
    op.execute("DELETE FROM customer_credits WHERE reason = 'termination'")
    op.drop_constraint(op.f("ck_customer_credits_reason"), "customer_credits", type_="check")
    op.create_check_constraint(op.f("ck_customer_credits_reason"), "customer_credits", "reason IN ('upgrade')")
