"""Billing entities: units that issue invoices, with legal details, numbering, invoice settings and own taxes.

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
        "billing_entities",
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("document_numbering", sa.String(length=20), server_default="per_customer", nullable=False),
        sa.Column("document_number_prefix", sa.String(length=10), nullable=False),
        sa.Column("subscription_invoice_issuing_date_anchor", sa.String(length=30),
                  server_default="next_period_start", nullable=False),
        sa.Column("subscription_invoice_issuing_date_adjustment", sa.String(length=30),
                  server_default="align_with_finalization_date", nullable=False),
        sa.Column("eu_tax_management", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("logo_url", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=255), nullable=True),
        sa.Column("tax_codes", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("legal_name", sa.String(length=255), nullable=True),
        sa.Column("legal_number", sa.String(length=255), nullable=True),
        sa.Column("tax_identification_number", sa.String(length=255), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("address_line1", sa.String(length=255), nullable=True),
        sa.Column("address_line2", sa.String(length=255), nullable=True),
        sa.Column("city", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=255), nullable=True),
        sa.Column("zipcode", sa.String(length=255), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("default_currency", sa.String(length=3), server_default="USD", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("net_payment_term", sa.Integer(), server_default="0", nullable=False),
        sa.Column("invoice_grace_period", sa.Integer(), server_default="0", nullable=False),
        sa.Column("document_locale", sa.String(length=10), server_default="en", nullable=False),
        sa.Column("invoice_footer", sa.Text(), nullable=True),
        sa.Column("finalize_zero_amount_invoice", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("email_settings", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("document_numbering IN ('per_customer', 'per_billing_entity')",
                           name=op.f("ck_billing_entities_document_numbering")),
        sa.CheckConstraint("net_payment_term >= 0 AND invoice_grace_period >= 0",
                           name=op.f("ck_billing_entities_days_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_entities")),
    )
    op.create_index(op.f("ix_billing_entities_organization_id"), "billing_entities", ["organization_id"])
    op.create_index("uq_billing_entities_organization_code", "billing_entities", ["organization_id", "code"],
                    unique=True)
    op.create_index("uq_billing_entities_default", "billing_entities", ["organization_id"], unique=True,
                    postgresql_where=sa.text("is_default"))


def downgrade() -> None:
    op.drop_table("billing_entities")
