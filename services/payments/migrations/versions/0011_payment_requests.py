"""Payment requests (Lago's `/payment_requests`): a customer's unpaid invoices bundled and charged once. A payment
may now pay a request instead of one invoice (`payment_request_id`, exactly one of the two set), with one live
provider attempt per request (a partial unique index, as per invoice); each request keeps the amount it
asks of each invoice (`payment_request_invoices`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_requests",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payment_requests_amount_positive")),
        sa.CheckConstraint("payment_status IN ('pending', 'succeeded', 'failed')",
                           name=op.f("ck_payment_requests_known_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_requests")),
    )
    op.create_index("ix_payment_requests_organization_created", "payment_requests", ["organization_id", "created_at"])
    op.create_table(
        "payment_request_invoices",
        sa.Column("payment_request_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payment_request_invoices_amount_positive")),
        sa.ForeignKeyConstraint(["payment_request_id"], ["payment_requests.id"],
                                name=op.f("fk_payment_request_invoices_payment_request_id_payment_requests")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"],
                                name=op.f("fk_payment_request_invoices_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("payment_request_id", "invoice_id", name=op.f("pk_payment_request_invoices")),
    )
    op.create_index("ix_payment_request_invoices_invoice", "payment_request_invoices", ["invoice_id"])
    op.add_column("payments", sa.Column("payment_request_id", sa.UUID(), nullable=True))
    op.create_foreign_key(op.f("fk_payments_payment_request_id_payment_requests"), "payments", "payment_requests",
                          ["payment_request_id"], ["id"])
    op.alter_column("payments", "invoice_id", nullable=True)
    op.create_check_constraint(op.f("ck_payments_pays_one_payable"), "payments",
                               "(invoice_id IS NULL) <> (payment_request_id IS NULL)")
    op.create_index("uq_payments_one_live_attempt_per_request", "payments", ["payment_request_id"], unique=True,
                    postgresql_where=sa.text("type = 'provider' AND payment_status IN ('pending', 'processing', "
                                             "'requires_action')"))


def downgrade() -> None:
    op.drop_index("uq_payments_one_live_attempt_per_request", table_name="payments")
    op.drop_constraint(op.f("ck_payments_pays_one_payable"), "payments", type_="check")
    op.execute("DELETE FROM payment_receipts WHERE payment_id IN (SELECT id FROM payments WHERE invoice_id IS NULL)")
    op.execute("DELETE FROM payments WHERE invoice_id IS NULL")
    op.alter_column("payments", "invoice_id", nullable=False)
    op.drop_constraint(op.f("fk_payments_payment_request_id_payment_requests"), "payments", type_="foreignkey")
    op.drop_column("payments", "payment_request_id")
    op.drop_table("payment_request_invoices")
    op.drop_table("payment_requests")
