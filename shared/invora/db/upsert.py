"""Projection upserts where the newer version wins: `INSERT … ON CONFLICT (key) DO UPDATE … WHERE stored <= new`.

A projection kept from another service's events (a customer, a billing entity, the organization's settings)
may see an event again (redelivery, replay) or out of order across partitions; the row carries the
version it was written from (the producer's `updated_at`, an event's `occurred_at`) and an older one never
overwrites it. (`invora.customer_projection` orders by the aggregate's event sequence instead.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


async def upsert_newer(session: AsyncSession, model: Any, key: dict[str, Any], values: dict[str, Any], *,
                       insert_only: dict[str, Any] | None = None, version: str = "updated_at",
                       conflict: Sequence[str] | None = None) -> None:
    """Insert `key` + `values` (+ `insert_only`) into `model`'s table, or update the row holding `key` with
    `values` when `values[version]` is not older than the stored one. `conflict`: the unique columns
    (default: `key`'s)."""
    statement = insert(model).values(**key, **values, **(insert_only or {}))
    await session.execute(statement.on_conflict_do_update(
        index_elements=list(conflict or key), set_=values,
        where=getattr(model, version) <= getattr(statement.excluded, version)))
