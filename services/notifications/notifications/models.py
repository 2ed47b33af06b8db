"""Every ORM model of the notifications service, imported so Alembic sees the whole schema."""

from notifications.db import PLATFORM_MODELS

__all__ = ["PLATFORM_MODELS"]
