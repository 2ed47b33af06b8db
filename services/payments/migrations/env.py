"""Alembic environment of the payments service (shared body in invora.db.alembic_env)."""

from invora.db.alembic_env import run_migrations

import payments.models  # noqa: F401  - registers every table on Base.metadata
from payments.db import Base
from payments.settings import PaymentsSettings

run_migrations(Base.metadata, default_url=lambda: PaymentsSettings().database_url)
