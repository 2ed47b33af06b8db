"""Alembic environment of the notifications service (shared body in invora.db.alembic_env)."""

import notifications.models  # noqa: F401  - registers every table on Base.metadata
from invora.db.alembic_env import run_migrations
from notifications.db import Base
from notifications.settings import NotificationsSettings

run_migrations(Base.metadata, settings=NotificationsSettings)
