"""SQL of the customers projection."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

# an event older than (or the same as) the last one applied changes nothing: per-customer events are
# ordered by their aggregate sequence, and a redelivery or a replay must not roll the projection back
_UPSERT = text(
    """
    INSERT INTO customers (id, organization_id, external_id, name, currency, deleted_at, last_sequence)
    VALUES (:id, :org, :external_id, :name, :currency, :deleted_at, :sequence)
    ON CONFLICT (id) DO UPDATE SET
        external_id = EXCLUDED.external_id, name = EXCLUDED.name, currency = EXCLUDED.currency,
        deleted_at = EXCLUDED.deleted_at, last_sequence = EXCLUDED.last_sequence, updated_at = now()
    WHERE customers.last_sequence < EXCLUDED.last_sequence AND customers.organization_id = EXCLUDED.organization_id
    RETURNING id
    """
)
_BY_EXTERNAL_ID = text(
    "SELECT * FROM customers WHERE organization_id = :org AND external_id = :external_id AND deleted_at IS NULL"
)


async def upsert(session: AsyncSession, *, id: uuid.UUID, organization_id: uuid.UUID, external_id: str,
                 name: str | None, currency: str | None, deleted_at: datetime | None, sequence: int) -> bool:
    """True if the row changed (a newer event)."""
    row = (await session.execute(_UPSERT, {
        "id": id, "org": organization_id, "external_id": external_id, "name": name, "currency": currency,
        "deleted_at": deleted_at, "sequence": sequence,
    })).first()
    return row is not None


async def by_external_id(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> RowMapping | None:
    return (await session.execute(_BY_EXTERNAL_ID, {"org": organization_id, "external_id": external_id})
            ).mappings().first()


_BY_EXTERNAL_IDS = text(
    """
    SELECT c.* FROM customers c
    JOIN unnest(CAST(:orgs AS uuid[]), CAST(:external_ids AS varchar[])) AS k(o, e)
      ON c.organization_id = k.o AND c.external_id = k.e AND c.deleted_at IS NULL
    """
)


async def by_external_ids(session: AsyncSession, keys: list[tuple[uuid.UUID, str]]) -> dict[tuple, RowMapping]:
    """Live customers by (organization, external id)."""
    if not keys:
        return {}
    rows = (await session.execute(_BY_EXTERNAL_IDS, {"orgs": [k[0] for k in keys],
                                                     "external_ids": [k[1] for k in keys]})).mappings().all()
    return {(row["organization_id"], row["external_id"]): row for row in rows}
