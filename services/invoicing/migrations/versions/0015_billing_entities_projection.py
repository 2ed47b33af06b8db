"""Billing entities as invoicing applies them (the catalog's `billing_entity.*`): a customer's entity gives its
invoices their numbering, settings and default taxes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_entities",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("document_numbering", sa.String(length=20), nullable=False),
        sa.Column("document_number_prefix", sa.String(length=20), nullable=False),
        sa.Column("invoice_grace_period", sa.Integer(), nullable=False),
        sa.Column("net_payment_term", sa.Integer(), nullable=False),
        sa.Column("finalize_zero_amount_invoice", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("default_currency", sa.String(length=3), nullable=False),
        sa.Column("tax_codes", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "code", name=op.f("pk_billing_entities")),
    )


def downgrade() -> None:
    op.drop_table("billing_entities")
