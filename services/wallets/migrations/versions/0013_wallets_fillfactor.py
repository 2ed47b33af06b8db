"""Room on each page of `wallets` for its rows' next versions: fillfactor 70.

Every debit, credit and expiry rewrites its wallet's row (the balances the ledger's trigger moves).
On a full page the new version goes to another page and each of the table's six indexes gets a new
entry; with free room on the page PostgreSQL keeps it there as a heap-only tuple (no column an index
names changes), which costs no index entry and less WAL. Pages written from now on keep 30 % free;
pages already full get the room as their rows move (or at once with `VACUUM FULL wallets`).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE wallets SET (fillfactor = 70)")


def downgrade() -> None:
    op.execute("ALTER TABLE wallets RESET (fillfactor)")
