"""Invoices, fees, applied taxes, number counters, invoicing settings, billing check findings, applied
coupons, and the projections of customers, plan versions, taxes and coupons.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:24:35.578747
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
        "applied_coupons",
        sa.Column("coupon_id", sa.UUID(), nullable=False),
        sa.Column("coupon_code", sa.String(length=255), nullable=False),
        sa.Column("coupon_name", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("coupon_type", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("amount_cents_remaining", sa.BigInteger(), nullable=True),
        sa.Column("amount_currency", sa.String(length=3), nullable=True),
        sa.Column("percentage_rate", sa.Numeric(precision=10, scale=5), nullable=True),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.Column("frequency_duration", sa.Integer(), nullable=True),
        sa.Column("frequency_duration_remaining", sa.Integer(), nullable=True),
        sa.Column("expiration_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "plan_codes", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column(
            "billable_metric_codes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('active', 'terminated')", name=op.f("ck_applied_coupons_status")),
        sa.CheckConstraint(
            "amount_cents_remaining IS NULL OR amount_cents_remaining >= 0", name=op.f("ck_applied_coupons_remaining")
        ),
        sa.CheckConstraint(
            "frequency_duration_remaining IS NULL OR frequency_duration_remaining >= 0",
            name=op.f("ck_applied_coupons_periods_remaining"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applied_coupons")),
    )
    op.create_index(
        "ix_applied_coupons_customer",
        "applied_coupons",
        ["organization_id", "customer_id", "status", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_applied_coupons_organization_id"), "applied_coupons", ["organization_id"], unique=False)
    op.create_table(
        "billing_check_violations",
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_check_violations")),
    )
    op.create_index(
        op.f("ix_billing_check_violations_customer_id"), "billing_check_violations", ["customer_id"], unique=False
    )
    op.create_index(
        op.f("ix_billing_check_violations_organization_id"),
        "billing_check_violations",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "coupons",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "code", name=op.f("pk_coupons")),
    )
    op.create_table(
        "customers",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column(
            "tax_codes", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("net_payment_term", sa.Integer(), nullable=True),
        sa.Column("invoice_grace_period", sa.Integer(), nullable=True),
        sa.Column("billing_entity_code", sa.String(length=255), nullable=True),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_customers")),
    )
    op.create_index(op.f("ix_customers_external_id"), "customers", ["external_id"], unique=False)
    op.create_table(
        "invoice_number_counters",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("last_number", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "scope", name=op.f("pk_invoice_number_counters")),
    )
    op.create_table(
        "invoices",
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=True),
        sa.Column("external_subscription_id", sa.String(length=255), nullable=True),
        sa.Column("billing_period_id", sa.UUID(), nullable=True),
        sa.Column("billing_reason", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_type", sa.String(length=40), server_default="subscription", nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("payment_status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("sequential_id", sa.BigInteger(), nullable=True),
        sa.Column("issuing_date", sa.Date(), nullable=False),
        sa.Column("payment_due_date", sa.Date(), nullable=False),
        sa.Column("net_payment_term", sa.Integer(), server_default="0", nullable=False),
        sa.Column("finalize_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fees_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("progressive_billing_credit_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("coupons_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("sub_total_excluding_taxes_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("taxes_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("sub_total_including_taxes_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credit_notes_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("prepaid_credit_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("payment_overdue", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("version_number", sa.Integer(), server_default="4", nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column(
            "error_details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "source", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "payment_status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_invoices_payment_status")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'finalized', 'voided', 'failed', 'pending')", name=op.f("ck_invoices_status")
        ),
        sa.CheckConstraint(
            "status NOT IN ('finalized', 'voided') OR number IS NOT NULL", name=op.f("ck_invoices_numbered")
        ),
        sa.CheckConstraint(
            "sub_total_excluding_taxes_amount_cents = fees_amount_cents - progressive_billing_credit_amount_cents"
            " - coupons_amount_cents",
            name=op.f("ck_invoices_sub_total_excluding_taxes"),
        ),
        sa.CheckConstraint(
            "sub_total_including_taxes_amount_cents = sub_total_excluding_taxes_amount_cents + taxes_amount_cents",
            name=op.f("ck_invoices_sub_total_including_taxes"),
        ),
        sa.CheckConstraint(
            "total_amount_cents = sub_total_including_taxes_amount_cents - credit_notes_amount_cents"
            " - prepaid_credit_amount_cents",
            name=op.f("ck_invoices_total"),
        ),
        sa.CheckConstraint(
            "total_amount_cents >= 0 AND coupons_amount_cents >= 0 AND taxes_amount_cents >= 0",
            name=op.f("ck_invoices_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
    )
    op.create_index(
        "ix_invoices_customer_list", "invoices", ["organization_id", "customer_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_invoices_due_drafts",
        "invoices",
        ["finalize_at"],
        unique=False,
        postgresql_where=sa.text("status = 'draft'"),
    )
    op.create_index("ix_invoices_list", "invoices", ["organization_id", "created_at", "id"], unique=False)
    op.create_index(op.f("ix_invoices_organization_id"), "invoices", ["organization_id"], unique=False)
    op.create_index(
        "uq_invoices_number",
        "invoices",
        ["organization_id", "number"],
        unique=True,
        postgresql_where=sa.text("number IS NOT NULL"),
    )
    op.create_index(
        "uq_invoices_subscription_period",
        "invoices",
        ["organization_id", "subscription_id", "period_start", "billing_reason"],
        unique=True,
        postgresql_where=sa.text("subscription_id IS NOT NULL"),
    )
    op.create_table(
        "invoicing_settings",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("document_numbering", sa.String(length=20), server_default="per_organization", nullable=False),
        sa.Column("document_number_prefix", sa.String(length=20), server_default="INV", nullable=False),
        sa.Column("invoice_grace_period", sa.Integer(), server_default="0", nullable=False),
        sa.Column("net_payment_term", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "document_numbering IN ('per_customer', 'per_organization')",
            name=op.f("ck_invoicing_settings_document_numbering"),
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_invoicing_settings")),
    )
    op.create_table(
        "plan_versions",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("plan_code", sa.String(length=255), nullable=False),
        sa.Column("plan_name", sa.String(length=255), nullable=False),
        sa.Column("invoice_display_name", sa.String(length=255), nullable=True),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_plan_versions")),
    )
    op.create_table(
        "taxes",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("rate", sa.Numeric(precision=10, scale=5), nullable=False),
        sa.Column("applied_to_organization", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "code", name=op.f("pk_taxes")),
    )
    op.create_table(
        "fees",
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("fee_type", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=True),
        sa.Column("external_subscription_id", sa.String(length=255), nullable=True),
        sa.Column("charge_id", sa.UUID(), nullable=True),
        sa.Column("charge_filter_id", sa.UUID(), nullable=True),
        sa.Column("true_up_parent_fee_id", sa.UUID(), nullable=True),
        sa.Column("billable_metric_code", sa.String(length=255), nullable=True),
        sa.Column(
            "grouped_by", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("item", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("invoice_display_name", sa.String(length=255), nullable=True),
        sa.Column("amount_currency", sa.String(length=3), nullable=False),
        sa.Column("units", sa.Numeric(), nullable=False),
        sa.Column("events_count", sa.BigInteger(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("precise_amount_cents", sa.Numeric(), nullable=False),
        sa.Column("unit_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("precise_unit_amount", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("precise_coupons_amount_cents", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("taxes_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("taxes_precise_amount_cents", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("taxes_rate", sa.Numeric(), server_default="0", nullable=False),
        sa.Column(
            "applied_taxes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "amount_details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("pay_in_advance", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("invoiceable", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("from_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("to_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "fee_type IN ('subscription', 'charge', 'add_on', 'commitment', 'credit')", name=op.f("ck_fees_fee_type")
        ),
        sa.CheckConstraint("taxes_amount_cents >= 0", name=op.f("ck_fees_taxes_non_negative")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_fees_invoice_id_invoices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fees")),
    )
    op.create_index(op.f("ix_fees_invoice_id"), "fees", ["invoice_id"], unique=False)
    op.create_index("ix_fees_list", "fees", ["organization_id", "created_at", "id"], unique=False)
    op.create_index(op.f("ix_fees_organization_id"), "fees", ["organization_id"], unique=False)
    op.create_table(
        "invoice_applied_taxes",
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("tax_id", sa.UUID(), nullable=True),
        sa.Column("tax_code", sa.String(length=255), nullable=False),
        sa.Column("tax_name", sa.String(length=255), nullable=False),
        sa.Column("tax_description", sa.Text(), nullable=True),
        sa.Column("tax_rate", sa.Numeric(precision=10, scale=5), nullable=False),
        sa.Column("fees_amount_cents", sa.Numeric(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_currency", sa.String(length=3), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_applied_taxes_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_applied_taxes")),
    )
    op.create_index(op.f("ix_invoice_applied_taxes_invoice_id"), "invoice_applied_taxes", ["invoice_id"], unique=False)
    op.create_index(
        op.f("ix_invoice_applied_taxes_organization_id"), "invoice_applied_taxes", ["organization_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_invoice_applied_taxes_organization_id"), table_name="invoice_applied_taxes")
    op.drop_index(op.f("ix_invoice_applied_taxes_invoice_id"), table_name="invoice_applied_taxes")
    op.drop_table("invoice_applied_taxes")
    op.drop_index(op.f("ix_fees_organization_id"), table_name="fees")
    op.drop_index("ix_fees_list", table_name="fees")
    op.drop_index(op.f("ix_fees_invoice_id"), table_name="fees")
    op.drop_table("fees")
    op.drop_table("taxes")
    op.drop_table("plan_versions")
    op.drop_table("invoicing_settings")
    op.drop_index(
        "uq_invoices_subscription_period",
        table_name="invoices",
        postgresql_where=sa.text("subscription_id IS NOT NULL"),
    )
    op.drop_index("uq_invoices_number", table_name="invoices", postgresql_where=sa.text("number IS NOT NULL"))
    op.drop_index(op.f("ix_invoices_organization_id"), table_name="invoices")
    op.drop_index("ix_invoices_list", table_name="invoices")
    op.drop_index("ix_invoices_due_drafts", table_name="invoices", postgresql_where=sa.text("status = 'draft'"))
    op.drop_index("ix_invoices_customer_list", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("invoice_number_counters")
    op.drop_index(op.f("ix_customers_external_id"), table_name="customers")
    op.drop_table("customers")
    op.drop_table("coupons")
    op.drop_index(op.f("ix_billing_check_violations_organization_id"), table_name="billing_check_violations")
    op.drop_index(op.f("ix_billing_check_violations_customer_id"), table_name="billing_check_violations")
    op.drop_table("billing_check_violations")
    op.drop_index(op.f("ix_applied_coupons_organization_id"), table_name="applied_coupons")
    op.drop_index("ix_applied_coupons_customer", table_name="applied_coupons")
    op.drop_table("applied_coupons")
