"""Parked items: the failures a background loop set aside (with their error and next retry) so that
one bad item never blocks the others (`invora.parking`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from invora.db.platform import create_parked_items_table, drop_parked_items_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_parked_items_table()


def downgrade() -> None:
    drop_parked_items_table()
