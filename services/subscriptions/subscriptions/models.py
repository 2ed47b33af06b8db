"""Every ORM model of the subscriptions service, imported so Alembic sees the whole schema."""

from subscriptions.db import PLATFORM_MODELS

__all__ = ["PLATFORM_MODELS"]
