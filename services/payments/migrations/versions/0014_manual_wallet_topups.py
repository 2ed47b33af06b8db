"""Wallet top-ups paid on the provider's page (Lago's `payment_method_type: manual`): such a charge is never sent
off-session (`manual`); the page made for it is kept (`hosted_url`, `hosted_at`) so one top-up has one page at a
time, and a page being made blocks a second (`hosted_at` set, `hosted_url` not yet).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("wallet_topup_charges", sa.Column("manual", sa.Boolean(), server_default=sa.false(),
                                                    nullable=False))
    op.add_column("wallet_topup_charges", sa.Column("hosted_url", sa.Text(), nullable=True))
    op.add_column("wallet_topup_charges", sa.Column("hosted_at", sa.DateTime(timezone=True), nullable=True))
    # a manual charge is never claimed by the charger, nor ever called off-session
    op.create_check_constraint(op.f("ck_wallet_topup_charges_manual_never_called"), "wallet_topup_charges",
                               "NOT manual OR calls = 0")
    op.drop_index("ix_wallet_topup_charges_pending", table_name="wallet_topup_charges")
    op.create_index("ix_wallet_topup_charges_pending", "wallet_topup_charges", ["created_at"],
                    postgresql_where=sa.text("status = 'pending' AND NOT manual"))


def downgrade() -> None:
    op.drop_index("ix_wallet_topup_charges_pending", table_name="wallet_topup_charges")
    op.create_index("ix_wallet_topup_charges_pending", "wallet_topup_charges", ["created_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.drop_constraint(op.f("ck_wallet_topup_charges_manual_never_called"), "wallet_topup_charges", type_="check")
    op.drop_column("wallet_topup_charges", "hosted_at")
    op.drop_column("wallet_topup_charges", "hosted_url")
    op.drop_column("wallet_topup_charges", "manual")
