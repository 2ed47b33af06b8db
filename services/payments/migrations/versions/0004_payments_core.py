"""Payments core: provider connections (credentials encrypted at rest), the customers and invoices
projections, provider customers, payments (one live provider attempt per invoice, unique idempotency
keys and provider payment ids), refunds and their audit entries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject_type", sa.String(length=50), nullable=False),
        sa.Column("subject_id", sa.UUID(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index(
        "ix_audit_entries_subject", "audit_entries", ["organization_id", "subject_type", "subject_id"], unique=False
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("payment_provider", sa.String(length=30), nullable=True),
        sa.Column("payment_provider_code", sa.String(length=255), nullable=True),
        sa.Column("provider_customer_id", sa.String(length=255), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(
        "uq_customers_organization_external_id",
        "customers",
        ["organization_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("number", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("total_amount_cents >= 0", name=op.f("ck_invoices_total_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
    )
    op.create_table(
        "payment_providers",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("provider_type", sa.String(length=30), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("secret_key", sa.Text(), nullable=False, comment="invora:encrypted"),
        sa.Column("webhook_secret", sa.Text(), nullable=True, comment="invora:encrypted"),
        sa.Column("success_redirect_url", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_providers")),
    )
    op.create_index(
        "uq_payment_providers_organization_code",
        "payment_providers",
        ["organization_id", "code"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_status", sa.String(length=20), nullable=False),
        sa.Column("provider_status", sa.String(length=50), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("payment_provider_id", sa.UUID(), nullable=True),
        sa.Column("payment_provider_code", sa.String(length=255), nullable=True),
        sa.Column("payment_provider_type", sa.String(length=30), nullable=True),
        sa.Column("provider_customer_id", sa.String(length=255), nullable=True),
        sa.Column("provider_payment_id", sa.String(length=255), nullable=True),
        sa.Column("payment_method_id", sa.String(length=255), nullable=True),
        sa.Column("calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_category", sa.String(length=10), nullable=True),
        sa.Column("failure_code", sa.String(length=100), nullable=True),
        sa.Column("failure_message", sa.String(length=1000), nullable=True),
        sa.Column(
            "next_action",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "payment_status IN ('pending', 'processing', 'requires_action', 'succeeded', 'failed', 'canceled')",
            name=op.f("ck_payments_known_status"),
        ),
        sa.CheckConstraint(
            "type = 'manual' OR payment_provider_id IS NOT NULL", name=op.f("ck_payments_provider_attempt_has_provider")
        ),
        sa.CheckConstraint("type IN ('manual', 'provider')", name=op.f("ck_payments_known_type")),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")),
        sa.ForeignKeyConstraint(
            ["payment_provider_id"],
            ["payment_providers.id"],
            name=op.f("fk_payments_payment_provider_id_payment_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(
        "ix_payments_due",
        "payments",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("payment_status = 'pending'"),
    )
    op.create_index(
        "ix_payments_organization_customer",
        "payments",
        ["organization_id", "external_customer_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_payments_organization_invoice", "payments", ["organization_id", "invoice_id"], unique=False)
    op.create_index("uq_payments_idempotency_key", "payments", ["organization_id", "idempotency_key"], unique=True)
    op.create_index(
        "uq_payments_one_live_attempt_per_invoice",
        "payments",
        ["invoice_id"],
        unique=True,
        postgresql_where=sa.text(
            "type = 'provider' AND payment_status IN ('pending', 'processing', 'requires_action')"
        ),
    )
    op.create_index(
        "uq_payments_provider_payment_id",
        "payments",
        ["payment_provider_id", "provider_payment_id"],
        unique=True,
        postgresql_where=sa.text("provider_payment_id IS NOT NULL"),
    )
    op.create_table(
        "provider_customers",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("payment_provider_id", sa.UUID(), nullable=False),
        sa.Column("provider_customer_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_provider_customers_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["payment_provider_id"],
            ["payment_providers.id"],
            name=op.f("fk_provider_customers_payment_provider_id_payment_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_customers")),
        sa.UniqueConstraint("customer_id", "payment_provider_id", name="uq_provider_customers_link"),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=255), nullable=True),
        sa.Column("failure_message", sa.String(length=1000), nullable=True),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        sa.Column("calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_refunds_known_status")),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint("length(reason) > 0", name=op.f("ck_refunds_reason_given")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    op.create_index("ix_refunds_payment", "refunds", ["payment_id"], unique=False)
    op.create_index("uq_refunds_idempotency_key", "refunds", ["organization_id", "idempotency_key"], unique=True)


def downgrade() -> None:

    op.drop_index("uq_refunds_idempotency_key", table_name="refunds")
    op.drop_index("ix_refunds_payment", table_name="refunds")
    op.drop_table("refunds")
    op.drop_table("provider_customers")
    op.drop_index(
        "uq_payments_provider_payment_id",
        table_name="payments",
        postgresql_where=sa.text("provider_payment_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_payments_one_live_attempt_per_invoice",
        table_name="payments",
        postgresql_where=sa.text(
            "type = 'provider' AND payment_status IN ('pending', 'processing', 'requires_action')"
        ),
    )
    op.drop_index("uq_payments_idempotency_key", table_name="payments")
    op.drop_index("ix_payments_organization_invoice", table_name="payments")
    op.drop_index("ix_payments_organization_customer", table_name="payments")
    op.drop_index("ix_payments_due", table_name="payments", postgresql_where=sa.text("payment_status = 'pending'"))
    op.drop_table("payments")
    op.drop_index(
        "uq_payment_providers_organization_code",
        table_name="payment_providers",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_table("payment_providers")
    op.drop_table("invoices")
    op.drop_index(
        "uq_customers_organization_external_id", table_name="customers", postgresql_where=sa.text("deleted_at IS NULL")
    )
    op.drop_table("customers")
    op.drop_index("ix_audit_entries_subject", table_name="audit_entries")
    op.drop_table("audit_entries")
