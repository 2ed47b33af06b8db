"""A credit note's refund split over several payments of its invoice: one `credit_note_refunds` row per
(note, payment), each refunded by payments under its own idempotency key (the row's id). The notes refunded
so far (one payment each, keyed by the note's id) become one part whose id is the note's id, so a refund
still under way at payments answers that part. A deferred constraint trigger keeps Σ parts = the note's
`refund_amount_cents` at every commit.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHECK_FUNCTION = """
CREATE FUNCTION credit_note_refund_parts_add_up() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    note_id uuid;
    expected bigint;
    parts bigint;
BEGIN
    -- one statement per table: PL/pgSQL resolves NEW's fields when a statement runs
    IF TG_TABLE_NAME = 'credit_notes' THEN
        note_id := NEW.id;
    ELSE
        note_id := NEW.credit_note_id;
    END IF;
    SELECT refund_amount_cents INTO expected FROM credit_notes WHERE id = note_id;
    SELECT COALESCE(SUM(amount_cents), 0) INTO parts FROM credit_note_refunds WHERE credit_note_id = note_id;
    IF parts <> expected THEN
        RAISE EXCEPTION 'credit note % refunds % in parts, not its refund_amount_cents %', note_id, parts, expected
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "credit_note_refunds",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("credit_note_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_credit_note_refunds_amount_positive")),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_credit_note_refunds_status")),
        sa.ForeignKeyConstraint(["credit_note_id"], ["credit_notes.id"],
                                name=op.f("fk_credit_note_refunds_credit_note_id_credit_notes")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"],
                                name=op.f("fk_credit_note_refunds_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note_refunds")),
    )
    op.create_index("uq_credit_note_refunds_note_payment", "credit_note_refunds", ["credit_note_id", "payment_id"],
                    unique=True)
    op.create_index("ix_credit_note_refunds_invoice", "credit_note_refunds", ["invoice_id"])
    op.create_index(op.f("ix_credit_note_refunds_organization_id"), "credit_note_refunds", ["organization_id"])
    op.execute("INSERT INTO credit_note_refunds (id, organization_id, created_at, updated_at, credit_note_id, "
               "invoice_id, payment_id, amount_cents, status) SELECT id, organization_id, created_at, updated_at, id, "
               "invoice_id, refund_payment_id, refund_amount_cents, refund_status FROM credit_notes "
               "WHERE refund_payment_id IS NOT NULL")
    op.drop_constraint(op.f("ck_credit_notes_refund_payment_when_refund"), "credit_notes", type_="check")
    op.drop_column("credit_notes", "refund_payment_id")
    op.execute(_CHECK_FUNCTION)
    op.execute("CREATE CONSTRAINT TRIGGER credit_note_refunds_add_up AFTER INSERT OR UPDATE ON "
               "credit_note_refunds DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
               "EXECUTE FUNCTION credit_note_refund_parts_add_up()")
    op.execute("CREATE CONSTRAINT TRIGGER credit_notes_refund_adds_up AFTER INSERT OR UPDATE OF refund_amount_cents "
               "ON credit_notes DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
               "EXECUTE FUNCTION credit_note_refund_parts_add_up()")


def downgrade() -> None:
    op.execute("DROP TRIGGER credit_notes_refund_adds_up ON credit_notes")
    op.execute("DROP TRIGGER credit_note_refunds_add_up ON credit_note_refunds")
    op.execute("DROP FUNCTION credit_note_refund_parts_add_up()")
    op.add_column("credit_notes", sa.Column("refund_payment_id", sa.UUID(), nullable=True))
    # one payment per note before: the oldest part's (a note split over several payments keeps its first)
    op.execute("UPDATE credit_notes SET refund_payment_id = (SELECT r.payment_id FROM credit_note_refunds r "
               "WHERE r.credit_note_id = credit_notes.id ORDER BY r.created_at, r.id LIMIT 1) "
               "WHERE refund_amount_cents > 0")
    op.create_check_constraint(op.f("ck_credit_notes_refund_payment_when_refund"), "credit_notes",
                               "(refund_amount_cents = 0) = (refund_payment_id IS NULL)")
    op.drop_table("credit_note_refunds")
