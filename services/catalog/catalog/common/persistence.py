"""Database helpers shared by the domains."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import ValidationFailed


async def flush_unique(session: AsyncSession, field: str = "code") -> None:
    """Flush; a unique-index violation (two requests racing for one code) becomes Lago's 422."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower():
            raise ValidationFailed({field: ["value_already_exist"]}) from exc
        raise
