"""The broker identity of the outbox: the cluster id its rows were last published to, so that a relay
started after the broker was replaced republishes what the old one may not have delivered
(`invora.outbox.relay`).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from invora.db.platform import create_outbox_broker_table, drop_outbox_broker_table

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_broker_table()


def downgrade() -> None:
    drop_outbox_broker_table()
