"""Documents (PDF) of payment receipts, one per receipt (the primary key is the receipt's id).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("resource_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("organization_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("resource_type", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("resource_type IN ('payment_receipt')", name=op.f("ck_documents_resource_type")),
        sa.CheckConstraint("octet_length(content) > 0", name=op.f("ck_documents_content_not_empty")),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_documents")),
    )


def downgrade() -> None:
    op.drop_table("documents")
