"""The credit notes of terminations and upgrades (Lago's `CreditNotes::CreateFromTermination`): the subscription
whose unused advance fee a note credits, one note per subscription (a redelivered or replayed termination makes
no second one).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("credit_notes", sa.Column("terminated_subscription_id", postgresql.UUID(as_uuid=True),
                                            nullable=True))
    op.create_index("uq_credit_notes_terminated_subscription", "credit_notes",
                    ["organization_id", "terminated_subscription_id"], unique=True,
                    postgresql_where=sa.text("terminated_subscription_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_credit_notes_terminated_subscription", table_name="credit_notes")
    op.drop_column("credit_notes", "terminated_subscription_id")
