"""Customer credits (an upgrade's unused advance fee, consumed by the next invoices after taxes) and what each
invoice took from them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_credits",
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("source_invoice_id", sa.UUID(), nullable=False),
        sa.Column("source_fee_id", sa.UUID(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_customer_credits_amount_positive")),
        sa.CheckConstraint("balance_cents >= 0 AND balance_cents <= amount_cents",
                           name=op.f("ck_customer_credits_balance_within_amount")),
        sa.CheckConstraint("reason IN ('upgrade')", name=op.f("ck_customer_credits_reason")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_credits")),
    )
    op.create_index("uq_customer_credits_subscription_reason", "customer_credits",
                    ["organization_id", "subscription_id", "reason"], unique=True)
    op.create_index("ix_customer_credits_available", "customer_credits",
                    ["organization_id", "customer_id", "created_at"], unique=False,
                    postgresql_where=sa.text("balance_cents > 0"))
    op.create_index(op.f("ix_customer_credits_organization_id"), "customer_credits", ["organization_id"], unique=False)
    op.create_table(
        "invoice_credits",
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("credit_id", sa.UUID(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_invoice_credits_amount_positive")),
        sa.ForeignKeyConstraint(["credit_id"], ["customer_credits.id"],
                                name=op.f("fk_invoice_credits_credit_id_customer_credits")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], ondelete="CASCADE",
                                name=op.f("fk_invoice_credits_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_credits")),
    )
    op.create_index("uq_invoice_credits_invoice_credit", "invoice_credits", ["invoice_id", "credit_id"], unique=True)
    op.create_index(op.f("ix_invoice_credits_invoice_id"), "invoice_credits", ["invoice_id"], unique=False)
    op.create_index(op.f("ix_invoice_credits_credit_id"), "invoice_credits", ["credit_id"], unique=False)
    op.create_index(op.f("ix_invoice_credits_organization_id"), "invoice_credits", ["organization_id"], unique=False)


def downgrade() -> None:
    op.drop_table("invoice_credits")
    op.drop_table("customer_credits")
