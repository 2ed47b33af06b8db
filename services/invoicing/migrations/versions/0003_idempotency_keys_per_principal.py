"""Idempotency keys per principal: an `Idempotency-Key` belongs to (organization, principal), so another
API key of the organization never receives a response stored for this one (issue 11, item 2).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from invora.db.platform import scope_idempotency_keys_to_principal, unscope_idempotency_keys

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    scope_idempotency_keys_to_principal()


def downgrade() -> None:
    unscope_idempotency_keys()
