"""Alembic environment of the wallets service (shared body in invora.db.alembic_env)."""

import wallets.models  # noqa: F401  - registers every table on Base.metadata
from invora.db.alembic_env import run_migrations
from wallets.db import Base
from wallets.settings import WalletsSettings

run_migrations(Base.metadata, settings=WalletsSettings)
