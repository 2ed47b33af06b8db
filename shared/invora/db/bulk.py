"""Inserting many rows at once, skipping those already there (a redelivered event, a replay).

PostgreSQL takes at most 32,767 parameters per statement: rows go in statements of `per_statement`
(choose it so that per_statement × columns stays below that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_new(session: AsyncSession, model: Any, rows: list[dict[str, Any]], *, per_statement: int,
                     conflict: Sequence[str] | None = None) -> list[Any]:
    """`INSERT … ON CONFLICT [(conflict)] DO NOTHING RETURNING id` by chunks: the ids of the rows inserted."""
    inserted: list[Any] = []
    for start in range(0, len(rows), per_statement):
        statement = insert(model).values(rows[start:start + per_statement]).on_conflict_do_nothing(
            index_elements=list(conflict) if conflict else None).returning(model.id)
        inserted.extend((await session.execute(statement)).scalars())
    return inserted
