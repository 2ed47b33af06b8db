"""Inbox pruning: an index on `inbox_events.processed_at`, so the relay's housekeeping deletes rows
older than `INBOX_RETENTION_HOURS` without scanning the table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from invora.db.platform import create_inbox_pruning_index, drop_inbox_pruning_index

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbox_pruning_index()


def downgrade() -> None:
    drop_inbox_pruning_index()
