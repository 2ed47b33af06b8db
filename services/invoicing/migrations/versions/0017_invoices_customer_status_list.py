"""GET /invoices filtered by customer and status stays fast at any size: an index on (organization,
external customer id, status, created_at, id), the columns the list filters on, then its keyset order
(newest first). Without it, a customer's finalized invoices among a million of the organization were found
by walking the organization's whole list index newest first and filtering every row.

Built CONCURRENTLY (outside the migration's transaction) so that writes to `invoices` go on while it builds.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

INDEX = "ix_invoices_customer_status_list"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(INDEX, "invoices", ["organization_id", "external_customer_id", "status", "created_at", "id"],
                        unique=False, postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="invoices", postgresql_concurrently=True, if_exists=True)
