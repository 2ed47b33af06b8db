"""Prepaid credits on invoices (the saga with wallets): the wallets projection and the invoice's saga state.

- `wallets`: which customers hold an active wallet in which currency (from `wallet.*` events);
- `invoices.prepaid_credits_status`: `requested` (the invoice is `pending` until wallets answers), `applied`
  (the answer is recorded), `release_requested` (voided: the credits are being given back), `released`;
  `invoices.prepaid_credits_requested_at`: when the request was last sent (a pending invoice whose answer
  does not come is asked again).
- CHECKs: a `pending` invoice is waiting for its credits; prepaid credits are only on an invoice whose
  request was answered.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallets",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'terminated')", name=op.f("ck_wallets_status")),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_wallets")),
    )
    op.create_index("ix_wallets_customer_currency", "wallets", ["organization_id", "customer_id", "currency"])
    op.add_column("invoices", sa.Column("prepaid_credits_status", sa.String(length=20), nullable=True))
    op.add_column("invoices", sa.Column("prepaid_credits_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f("ck_invoices_prepaid_credits_status"), "invoices",
        "prepaid_credits_status IS NULL OR prepaid_credits_status IN "
        "('requested', 'applied', 'release_requested', 'released')")
    op.create_check_constraint(
        op.f("ck_invoices_pending_awaits_credits"), "invoices",
        "status <> 'pending' OR prepaid_credits_status = 'requested'")
    op.create_check_constraint(
        op.f("ck_invoices_prepaid_credit_answered"), "invoices",
        "prepaid_credit_amount_cents = 0 OR prepaid_credits_status IN ('applied', 'release_requested', 'released')")
    op.create_index("ix_invoices_pending_credits", "invoices", ["prepaid_credits_requested_at"],
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("ix_invoices_pending_credits", table_name="invoices")
    op.drop_constraint(op.f("ck_invoices_prepaid_credit_answered"), "invoices", type_="check")
    op.drop_constraint(op.f("ck_invoices_pending_awaits_credits"), "invoices", type_="check")
    op.drop_constraint(op.f("ck_invoices_prepaid_credits_status"), "invoices", type_="check")
    op.drop_column("invoices", "prepaid_credits_requested_at")
    op.drop_column("invoices", "prepaid_credits_status")
    op.drop_index("ix_wallets_customer_currency", table_name="wallets")
    op.drop_table("wallets")
