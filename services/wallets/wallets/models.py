"""Every ORM model of the wallets service, imported so Alembic sees the whole schema."""

from wallets.db import PLATFORM_MODELS

__all__ = ["PLATFORM_MODELS"]
