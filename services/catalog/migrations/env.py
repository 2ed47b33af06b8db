"""Alembic environment of the catalog service (shared body in invora.db.alembic_env)."""

import catalog.models  # noqa: F401  - registers every table on Base.metadata
from catalog.db import Base
from catalog.settings import CatalogSettings
from invora.db.alembic_env import run_migrations

run_migrations(Base.metadata, settings=CatalogSettings)
