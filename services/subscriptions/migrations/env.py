"""Alembic environment of the subscriptions service (shared body in invora.db.alembic_env)."""

import subscriptions.models  # noqa: F401  - registers every table on Base.metadata
from invora.db.alembic_env import run_migrations
from subscriptions.db import Base
from subscriptions.settings import SubscriptionsSettings

run_migrations(Base.metadata, settings=SubscriptionsSettings)
