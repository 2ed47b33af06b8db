"""Alembic environment of the payments service (shared body in invora.db.alembic_env)."""

import payments.models  # noqa: F401  - registers every table on Base.metadata
from invora.db.alembic_env import run_migrations
from payments.db import Base
from payments.settings import PaymentsSettings

run_migrations(Base.metadata, settings=PaymentsSettings)
