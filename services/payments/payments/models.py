"""Every ORM model of the payments service, imported so Alembic sees the whole schema."""

from payments.db import PLATFORM_MODELS

__all__ = ["PLATFORM_MODELS"]
