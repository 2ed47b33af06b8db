"""SQL of provider customers; the customers projection's is the shared one (re-exported here)."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.customer_projection import repository as projection

# the projection itself (`customers`): the shared SQL (`invora.customer_projection.repository`)
upsert = projection.upsert
insert_if_absent = projection.insert_if_absent
insert_if_absent_many = projection.insert_if_absent_many
by_external_id = projection.by_external_id
by_id = projection.by_id


# -- provider customers -------------------------------------------------------------------------------------
_LINK = text(
    "SELECT * FROM provider_customers WHERE customer_id = :customer_id AND payment_provider_id = :provider_id"
)
_LINKS = text(
    "SELECT * FROM provider_customers WHERE customer_id = ANY(CAST(:customer_ids AS uuid[])) "
    "AND payment_provider_id = ANY(CAST(:provider_ids AS uuid[]))"
)
_BY_IDS = text("SELECT * FROM customers WHERE id = ANY(CAST(:ids AS uuid[]))")
_RESERVE_LINK = text(
    """
    INSERT INTO provider_customers (id, organization_id, customer_id, payment_provider_id, provider_customer_id)
    VALUES (:id, :org, :customer_id, :provider_id, :provider_customer_id)
    ON CONFLICT ON CONSTRAINT uq_provider_customers_link DO NOTHING
    RETURNING id
    """
)
_COMPLETE_LINK = text(
    """
    UPDATE provider_customers SET provider_customer_id = :provider_customer_id
    WHERE id = :id AND provider_customer_id IS NULL
    RETURNING id
    """
)


async def by_ids(session: AsyncSession, pairs: set[tuple[uuid.UUID, uuid.UUID]]
                 ) -> dict[tuple[uuid.UUID, uuid.UUID], RowMapping]:
    """`by_id` for several (organization id, customer id) pairs: the rows found, by pair."""
    if not pairs:
        return {}
    rows = (await session.execute(_BY_IDS, {"ids": list({customer_id for _, customer_id in pairs})})).mappings()
    return {(row["organization_id"], row["id"]): row for row in rows if (row["organization_id"], row["id"]) in pairs}


async def link(session: AsyncSession, customer_id: uuid.UUID, provider_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_LINK, {"customer_id": customer_id, "provider_id": provider_id})
            ).mappings().first()


async def links(session: AsyncSession, pairs: set[tuple[uuid.UUID, uuid.UUID]]
                ) -> dict[tuple[uuid.UUID, uuid.UUID], RowMapping]:
    """`link` for several (customer id, provider id) pairs."""
    if not pairs:
        return {}
    rows = (await session.execute(_LINKS, {"customer_ids": list({c for c, _ in pairs}),
                                           "provider_ids": list({p for _, p in pairs})})).mappings()
    return {(row["customer_id"], row["payment_provider_id"]): row for row in rows
            if (row["customer_id"], row["payment_provider_id"]) in pairs}


async def reserve_link(session: AsyncSession, *, id: uuid.UUID, organization_id: uuid.UUID, customer_id: uuid.UUID,
                       provider_id: uuid.UUID, provider_customer_id: str | None) -> bool:
    """True if this call created the link (else another did first)."""
    return (await session.execute(_RESERVE_LINK, {
        "id": id, "org": organization_id, "customer_id": customer_id, "provider_id": provider_id,
        "provider_customer_id": provider_customer_id})).first() is not None


async def complete_link(session: AsyncSession, link_id: uuid.UUID, provider_customer_id: str) -> bool:
    return (await session.execute(_COMPLETE_LINK, {"id": link_id, "provider_customer_id": provider_customer_id})
            ).first() is not None
