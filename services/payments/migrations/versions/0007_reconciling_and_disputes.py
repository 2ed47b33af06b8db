"""Payments the provider left unsettled (`processing`, `requires_action`) are looked up on a schedule
(`next_attempt_at` is their next lookup; an index finds the due ones), and a payment records its
dispute (Stripe's `charge.dispute.*`): the provider's dispute id, status, reason, when it opened and
when it was lost.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_payments_unsettled", "payments", ["next_attempt_at"], unique=False,
                    postgresql_where=sa.text("payment_status IN ('processing', 'requires_action')"))
    op.add_column("payments", sa.Column("provider_dispute_id", sa.String(255), nullable=True))
    op.add_column("payments", sa.Column("dispute_status", sa.String(30), nullable=True))
    op.add_column("payments", sa.Column("dispute_reason", sa.String(100), nullable=True))
    op.add_column("payments", sa.Column("disputed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("payments", sa.Column("dispute_lost_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f("ck_payments_dispute_lost_when_lost"), "payments",
                               "(dispute_lost_at IS NULL) = (dispute_status IS DISTINCT FROM 'lost')")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_payments_dispute_lost_when_lost"), "payments", type_="check")
    for column in ("dispute_lost_at", "disputed_at", "dispute_reason", "dispute_status", "provider_dispute_id"):
        op.drop_column("payments", column)
    op.drop_index("ix_payments_unsettled", table_name="payments")
