"""Credit notes on finalized invoices, their items, and their credit as a customer credit (`reason` `credit_note`).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def _stamps() -> list[sa.Column]:
    return [
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "credit_notes",
        *_stamps(),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("sequential_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=False),
        sa.Column("issuing_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("credit_status", sa.String(length=20), nullable=True),
        sa.Column("refund_status", sa.String(length=20), nullable=True),
        sa.Column("total_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("credit_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("refund_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("offset_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("taxes_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("precise_taxes_amount_cents", sa.Numeric(), nullable=False),
        sa.Column("taxes_rate", sa.Numeric(), nullable=False),
        sa.Column("sub_total_excluding_taxes_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("coupons_adjustment_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("applied_taxes", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("sequential_id > 0", name=op.f("ck_credit_notes_sequential_id_positive")),
        sa.CheckConstraint("credit_amount_cents >= 0 AND refund_amount_cents >= 0 AND offset_amount_cents >= 0 "
                           "AND taxes_amount_cents >= 0 AND sub_total_excluding_taxes_amount_cents >= 0 "
                           "AND coupons_adjustment_amount_cents >= 0",
                           name=op.f("ck_credit_notes_amounts_not_negative")),
        sa.CheckConstraint("total_amount_cents > 0", name=op.f("ck_credit_notes_total_positive")),
        sa.CheckConstraint("total_amount_cents = credit_amount_cents + refund_amount_cents + offset_amount_cents",
                           name=op.f("ck_credit_notes_total_is_credit_refund_offset")),
        sa.CheckConstraint("total_amount_cents = sub_total_excluding_taxes_amount_cents + taxes_amount_cents",
                           name=op.f("ck_credit_notes_total_is_sub_total_and_taxes")),
        sa.CheckConstraint("(credit_amount_cents = 0) = (credit_status IS NULL)",
                           name=op.f("ck_credit_notes_credit_status_when_credit")),
        sa.CheckConstraint("(refund_amount_cents = 0) = (refund_status IS NULL)",
                           name=op.f("ck_credit_notes_refund_status_when_refund")),
        sa.CheckConstraint("credit_status IS NULL OR credit_status IN ('available', 'consumed', 'voided')",
                           name=op.f("ck_credit_notes_credit_status")),
        sa.CheckConstraint("refund_status IS NULL OR refund_status IN ('pending', 'succeeded', 'failed')",
                           name=op.f("ck_credit_notes_refund_status")),
        sa.CheckConstraint("reason IN ('duplicated_charge', 'product_unsatisfactory', 'order_change', "
                           "'order_cancellation', 'fraudulent_charge', 'other')", name=op.f("ck_credit_notes_reason")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_credit_notes_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
    )
    op.create_index("uq_credit_notes_invoice_sequence", "credit_notes", ["invoice_id", "sequential_id"], unique=True)
    op.create_index("uq_credit_notes_number", "credit_notes", ["organization_id", "number"], unique=True)
    op.create_index("ix_credit_notes_customer", "credit_notes", ["organization_id", "customer_id", "created_at"])
    op.create_index(op.f("ix_credit_notes_organization_id"), "credit_notes", ["organization_id"])
    op.create_table(
        "credit_note_items",
        *_stamps(),
        sa.Column("credit_note_id", sa.UUID(), nullable=False),
        sa.Column("fee_id", sa.UUID(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_credit_note_items_amount_positive")),
        sa.ForeignKeyConstraint(["credit_note_id"], ["credit_notes.id"],
                                name=op.f("fk_credit_note_items_credit_note_id_credit_notes")),
        sa.ForeignKeyConstraint(["fee_id"], ["fees.id"], name=op.f("fk_credit_note_items_fee_id_fees")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note_items")),
    )
    op.create_index("uq_credit_note_items_note_fee", "credit_note_items", ["credit_note_id", "fee_id"], unique=True)
    op.create_index(op.f("ix_credit_note_items_credit_note_id"), "credit_note_items", ["credit_note_id"])
    op.create_index(op.f("ix_credit_note_items_fee_id"), "credit_note_items", ["fee_id"])
    op.create_index(op.f("ix_credit_note_items_organization_id"), "credit_note_items", ["organization_id"])

    op.alter_column("customer_credits", "subscription_id", nullable=True)
    op.alter_column("customer_credits", "source_fee_id", nullable=True)
    op.add_column("customer_credits", sa.Column("credit_note_id", sa.UUID(), nullable=True))
    op.add_column("customer_credits", sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(op.f("fk_customer_credits_credit_note_id_credit_notes"), "customer_credits",
                          "credit_notes", ["credit_note_id"], ["id"])
    op.create_index("uq_customer_credits_credit_note", "customer_credits", ["credit_note_id"], unique=True,
                    postgresql_where=sa.text("credit_note_id IS NOT NULL"))
    op.drop_constraint(op.f("ck_customer_credits_reason"), "customer_credits", type_="check")
    op.create_check_constraint(op.f("ck_customer_credits_reason"), "customer_credits",
                               "reason IN ('upgrade', 'termination', 'credit_note')")
    op.create_check_constraint(op.f("ck_customer_credits_source"), "customer_credits",
                               "(reason = 'credit_note') = (credit_note_id IS NOT NULL) AND "
                               "(reason = 'credit_note' OR "
                               "(subscription_id IS NOT NULL AND source_fee_id IS NOT NULL))")
    op.create_check_constraint(op.f("ck_customer_credits_voided_has_no_balance"), "customer_credits",
                               "voided_at IS NULL OR balance_cents = 0")


def downgrade() -> None:
    op.execute("DELETE FROM invoice_credits WHERE credit_id IN "
               "(SELECT id FROM customer_credits WHERE reason = 'credit_note')")
    op.execute("DELETE FROM customer_credits WHERE reason = 'credit_note'")
    op.drop_constraint(op.f("ck_customer_credits_voided_has_no_balance"), "customer_credits", type_="check")
    op.drop_constraint(op.f("ck_customer_credits_source"), "customer_credits", type_="check")
    op.drop_constraint(op.f("ck_customer_credits_reason"), "customer_credits", type_="check")
    op.create_check_constraint(op.f("ck_customer_credits_reason"), "customer_credits",
                               "reason IN ('upgrade', 'termination')")
    op.drop_index("uq_customer_credits_credit_note", table_name="customer_credits")
    op.drop_constraint(op.f("fk_customer_credits_credit_note_id_credit_notes"), "customer_credits",
                       type_="foreignkey")
    op.drop_column("customer_credits", "voided_at")
    op.drop_column("customer_credits", "credit_note_id")
    op.alter_column("customer_credits", "source_fee_id", nullable=False)
    op.alter_column("customer_credits", "subscription_id", nullable=False)
    op.drop_table("credit_note_items")
    op.drop_table("credit_notes")
