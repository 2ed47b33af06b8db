"""Fees paid in advance and progressive-billing invoices.

- `fees.invoice_id` nullable: a charge paid in advance with `invoiceable: false` makes a fee no invoice carries;
- `fees.event_transaction_id` and one fee per (subscription, charge, event transaction id) for fees paid in
  advance (a redelivered `subscription.pay_in_advance_usage` inserts nothing);
- `invoices.source_key`: the idempotency key of an invoice that is not one per (subscription, period, reason)
  (an invoice per event paid in advance, one per usage threshold crossed), unique per organization; those
  invoices leave the period index.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("fees", "invoice_id", existing_type=sa.dialects.postgresql.UUID(as_uuid=True), nullable=True)
    op.add_column("fees", sa.Column("event_transaction_id", sa.String(255), nullable=True))
    op.create_index("uq_fees_pay_in_advance", "fees",
                    ["organization_id", "subscription_id", "charge_id", "event_transaction_id"], unique=True,
                    postgresql_where=sa.text("event_transaction_id IS NOT NULL"))
    op.create_index("ix_fees_not_invoiced", "fees", ["organization_id", "subscription_id"],
                    postgresql_where=sa.text("invoice_id IS NULL"))
    op.add_column("invoices", sa.Column("source_key", sa.String(255), nullable=True))
    op.create_index("uq_invoices_source_key", "invoices", ["organization_id", "source_key"], unique=True,
                    postgresql_where=sa.text("source_key IS NOT NULL"))
    op.drop_index("uq_invoices_subscription_period", table_name="invoices")
    op.create_index("uq_invoices_subscription_period", "invoices",
                    ["organization_id", "subscription_id", "period_start", "billing_reason"], unique=True,
                    postgresql_where=sa.text("subscription_id IS NOT NULL AND source_key IS NULL"))
    op.create_index("ix_invoices_progressive", "invoices", ["organization_id", "subscription_id", "period_start"],
                    postgresql_where=sa.text("invoice_type = 'progressive_billing'"))


def downgrade() -> None:
    op.drop_index("ix_invoices_progressive", table_name="invoices")
    op.drop_index("uq_invoices_subscription_period", table_name="invoices")
    op.execute("DELETE FROM invoices WHERE source_key IS NOT NULL")
    op.create_index("uq_invoices_subscription_period", "invoices",
                    ["organization_id", "subscription_id", "period_start", "billing_reason"], unique=True,
                    postgresql_where=sa.text("subscription_id IS NOT NULL"))
    op.drop_index("uq_invoices_source_key", table_name="invoices")
    op.drop_column("invoices", "source_key")
    op.drop_index("ix_fees_not_invoiced", table_name="fees")
    op.execute("DELETE FROM fees WHERE invoice_id IS NULL")
    op.drop_index("uq_fees_pay_in_advance", table_name="fees")
    op.drop_column("fees", "event_transaction_id")
    op.alter_column("fees", "invoice_id", existing_type=sa.dialects.postgresql.UUID(as_uuid=True), nullable=False)
