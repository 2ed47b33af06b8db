"""Database helpers shared by the domains."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession


async def flush_loaded(session: AsyncSession, *rows: object) -> None:
    """Flush, then reload what the database computed (`updated_at`'s ON UPDATE) so rendering never lazy-loads."""
    await session.flush()
    for row in rows:
        expired = inspect(row).expired_attributes
        if expired:
            await session.refresh(row, list(expired))
