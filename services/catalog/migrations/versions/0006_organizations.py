"""The organization's settings (`PUT /organizations`): one row per organization, defaults until first written.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("document_numbering", sa.String(length=20), server_default="per_organization", nullable=False),
        sa.Column("document_number_prefix", sa.String(length=10), server_default="INV", nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
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
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("document_numbering IN ('per_customer', 'per_organization')",
                           name=op.f("ck_organizations_document_numbering")),
        sa.CheckConstraint("net_payment_term >= 0 AND invoice_grace_period >= 0",
                           name=op.f("ck_organizations_days_not_negative")),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_organizations")),
    )


def downgrade() -> None:
    op.drop_table("organizations")
