"""Parked items: the failures a background loop set aside (with their error and next retry) so that
one bad item never blocks the others (`invora.parking`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from invora.db.platform import create_parked_items_table, drop_parked_items_table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_parked_items_table()


def downgrade() -> None:
    drop_parked_items_table()
