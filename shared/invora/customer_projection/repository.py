"""SQL of a service's `customers` projection (the table and its base columns are the same in every service).

Base columns: `id` (the customer's lago_id), `organization_id`, `external_id`, `name`, `currency`,
`deleted_at`, `last_sequence`; a service adds its own (payments: e-mail, provider) by naming them.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

BASE_COLUMNS = ("id", "organization_id", "external_id", "name", "currency", "deleted_at", "last_sequence")


@functools.cache
def _upsert(columns: tuple[str, ...]) -> TextClause:
    # an event older than (or the same as) the last one applied changes nothing: per-customer events are
    # ordered by their aggregate sequence, and a redelivery or a replay must not roll the projection back
    updated = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("id", "organization_id"))
    return text(
        f"""
        INSERT INTO customers ({", ".join(columns)}) VALUES ({", ".join(":" + c for c in columns)})
        ON CONFLICT (id) DO UPDATE SET {updated}, updated_at = now()
        WHERE customers.last_sequence < EXCLUDED.last_sequence
          AND customers.organization_id = EXCLUDED.organization_id
        RETURNING id
        """
    )


@functools.cache
def _insert_if_absent(columns: tuple[str, ...]) -> TextClause:
    return text(f"INSERT INTO customers ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
                "ON CONFLICT DO NOTHING")


def _columns(values: dict[str, Any]) -> tuple[str, ...]:
    missing = set(BASE_COLUMNS) - values.keys()
    if missing:
        raise ValueError(f"customer projection values lack {sorted(missing)}")
    return tuple(values)


async def upsert(session: AsyncSession, values: dict[str, Any]) -> bool:
    """True if the row changed (a newer event)."""
    return (await session.execute(_upsert(_columns(values)), values)).first() is not None


async def insert_if_absent(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(_insert_if_absent(_columns(values)), values)


async def insert_if_absent_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """`insert_if_absent` for several customers with the same columns (one round trip, asyncpg's executemany)."""
    if rows:
        await session.execute(_insert_if_absent(_columns(rows[0])), rows)


_BY_EXTERNAL_ID = text(
    "SELECT * FROM customers WHERE organization_id = :org AND external_id = :external_id AND deleted_at IS NULL"
)
_BY_ID = text("SELECT * FROM customers WHERE organization_id = :org AND id = :id")
_BY_EXTERNAL_IDS = text(
    """
    SELECT c.* FROM customers c
    JOIN unnest(CAST(:orgs AS uuid[]), CAST(:external_ids AS varchar[])) AS k(o, e)
      ON c.organization_id = k.o AND c.external_id = k.e AND c.deleted_at IS NULL
    """
)


async def by_external_id(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> RowMapping | None:
    return (await session.execute(_BY_EXTERNAL_ID, {"org": organization_id, "external_id": external_id})
            ).mappings().first()


async def by_id(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_BY_ID, {"org": organization_id, "id": customer_id})).mappings().first()


async def by_external_ids(session: AsyncSession, keys: list[tuple[uuid.UUID, str]]) -> dict[tuple, RowMapping]:
    """Live customers by (organization, external id)."""
    if not keys:
        return {}
    rows = (await session.execute(_BY_EXTERNAL_IDS, {"orgs": [k[0] for k in keys],
                                                     "external_ids": [k[1] for k in keys]})).mappings().all()
    return {(row["organization_id"], row["external_id"]): row for row in rows}
