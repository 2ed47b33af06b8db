"""Flushing a session: a unique-index violation as Lago's 422, and rows reloaded after the database computed them."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import InvoraError, ValidationFailed

ALREADY_EXISTS = "value_already_exist"  # Lago's code


def is_unique_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "unique" in text or "duplicate" in text


async def flush_unique(session: AsyncSession, field: str | type[InvoraError] = "code") -> None:
    """Flush; a unique-index violation raises the domain's named error (`field` a class, e.g. `PlanCodeTaken`) or
    422 `{field: ["value_already_exist"]}`; any other failure raises as it is."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            if isinstance(field, type):
                raise field() from exc
            raise ValidationFailed({field: [ALREADY_EXISTS]}) from exc
        raise


async def flush_loaded(session: AsyncSession, *rows: object) -> None:
    """Flush, then reload what the database computed (`updated_at`'s ON UPDATE) so rendering never lazy-loads."""
    await session.flush()
    for row in rows:
        expired = inspect(row).expired_attributes
        if expired:
            await session.refresh(row, list(expired))
