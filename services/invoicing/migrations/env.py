"""Alembic environment of the invoicing service (shared body in invora.db.alembic_env)."""

import invoicing.models  # noqa: F401  - registers every table on Base.metadata
from invoicing.db import Base
from invoicing.settings import InvoicingSettings
from invora.db.alembic_env import run_migrations

run_migrations(Base.metadata, settings=InvoicingSettings)
