"""Every ORM model of the catalog service, imported so Alembic sees the whole schema."""

from catalog.db import PLATFORM_MODELS

__all__ = ["PLATFORM_MODELS"]
