"""Secrets at rest: endpoint signing secrets and the stored JWT signing key are encrypted
(AES-256-GCM under `INVORA_SECRETS_KEY`, see invora.secrets); what was stored in plain text is
encrypted here. The columns become `text` (ciphertext is longer) and are commented
`invora:encrypted`, which is how `invora secrets rotate` finds them.

Needs the key ring when rows exist (the migration runs with the service's settings). The downgrade
decrypts them back to plain text.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from invora import secrets
from invora.secrets.column import context_of

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (
    ("webhook_endpoints", "id", "secret", sa.String(100)),
    ("webhook_endpoints", "id", "previous_secret", sa.String(100)),
    ("webhook_signing_keys", "name", "private_key_pem", sa.Text()),
)


def upgrade() -> None:
    bind = op.get_bind()
    for table, key, column, old_type in COLUMNS:
        op.alter_column(table, column, type_=sa.Text(), existing_type=old_type,
                        comment=secrets.ENCRYPTED_COMMENT, existing_nullable=column != "previous_secret")
        rows = bind.execute(sa.text(
            f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL AND NOT starts_with({column}, :prefix)"
        ), {"prefix": secrets.PREFIX}).all()
        for row_key, plaintext in rows:
            bind.execute(sa.text(f"UPDATE {table} SET {column} = :value WHERE {key} = :key"),
                         {"value": secrets.encrypt(plaintext, context_of(table, column)), "key": row_key})


def downgrade() -> None:
    bind = op.get_bind()
    for table, key, column, old_type in COLUMNS:
        rows = bind.execute(sa.text(
            f"SELECT {key}, {column} FROM {table} WHERE starts_with({column}, :prefix)"
        ), {"prefix": secrets.PREFIX}).all()
        for row_key, token in rows:
            bind.execute(sa.text(f"UPDATE {table} SET {column} = :value WHERE {key} = :key"),
                         {"value": secrets.decrypt(token, context_of(table, column)), "key": row_key})
        op.alter_column(table, column, type_=old_type, existing_type=sa.Text(), comment=None,
                        existing_comment=secrets.ENCRYPTED_COMMENT, existing_nullable=column != "previous_secret")
