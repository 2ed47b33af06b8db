"""Every ORM model of the invoicing service, imported so Alembic sees the whole schema."""

from invoicing.db import PLATFORM_MODELS

__all__ = ["PLATFORM_MODELS"]
