"""Credit notes' metadata (Lago's key-value object: `POST|PATCH|DELETE /credit_notes/{id}/metadata`,
`DELETE …/metadata/{key}`, and `metadata` at creation and on `PUT`): a JSON object or NULL, never `{}`.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("credit_notes", sa.Column("metadata", postgresql.JSONB(), nullable=True))
    op.create_check_constraint(
        op.f("ck_credit_notes_metadata_object"), "credit_notes",
        "metadata IS NULL OR (jsonb_typeof(metadata) = 'object' AND metadata <> '{}'::jsonb)")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_credit_notes_metadata_object"), "credit_notes", type_="check")
    op.drop_column("credit_notes", "metadata")
