"""SQL of the customers projection and of provider customers."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

_COLUMNS = ("id", "organization_id", "external_id", "name", "email", "currency", "payment_provider",
            "payment_provider_code", "provider_customer_id", "deleted_at", "last_sequence")

# an event older than (or the same as) the last one applied changes nothing; a customer first seen inside an
# invoice (sequence 0) is replaced by the first real customer event
_UPSERT = text(
    f"""
    INSERT INTO customers ({", ".join(_COLUMNS)})
    VALUES ({", ".join(":" + c for c in _COLUMNS)})
    ON CONFLICT (id) DO UPDATE SET
        external_id = EXCLUDED.external_id, name = EXCLUDED.name, email = EXCLUDED.email,
        currency = EXCLUDED.currency, payment_provider = EXCLUDED.payment_provider,
        payment_provider_code = EXCLUDED.payment_provider_code, provider_customer_id = EXCLUDED.provider_customer_id,
        deleted_at = EXCLUDED.deleted_at, last_sequence = EXCLUDED.last_sequence, updated_at = now()
    WHERE customers.last_sequence < EXCLUDED.last_sequence AND customers.organization_id = EXCLUDED.organization_id
    RETURNING id
    """
)
_INSERT_IF_ABSENT = text(
    f"""
    INSERT INTO customers ({", ".join(_COLUMNS)})
    VALUES ({", ".join(":" + c for c in _COLUMNS)})
    ON CONFLICT DO NOTHING
    """
)
_BY_EXTERNAL_ID = text(
    "SELECT * FROM customers WHERE organization_id = :org AND external_id = :external_id AND deleted_at IS NULL"
)
_BY_ID = text("SELECT * FROM customers WHERE organization_id = :org AND id = :id")


async def upsert(session: AsyncSession, values: dict[str, Any]) -> bool:
    return (await session.execute(_UPSERT, values)).first() is not None


async def insert_if_absent(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(_INSERT_IF_ABSENT, values)


async def by_external_id(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> RowMapping | None:
    return (await session.execute(_BY_EXTERNAL_ID, {"org": organization_id, "external_id": external_id})
            ).mappings().first()


async def by_id(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_BY_ID, {"org": organization_id, "id": customer_id})).mappings().first()


# -- provider customers -------------------------------------------------------------------------------------
_LINK = text(
    "SELECT * FROM provider_customers WHERE customer_id = :customer_id AND payment_provider_id = :provider_id"
)
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


async def link(session: AsyncSession, customer_id: uuid.UUID, provider_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_LINK, {"customer_id": customer_id, "provider_id": provider_id})
            ).mappings().first()


async def reserve_link(session: AsyncSession, *, id: uuid.UUID, organization_id: uuid.UUID, customer_id: uuid.UUID,
                       provider_id: uuid.UUID, provider_customer_id: str | None) -> bool:
    """True if this call created the link (else another did first)."""
    return (await session.execute(_RESERVE_LINK, {
        "id": id, "org": organization_id, "customer_id": customer_id, "provider_id": provider_id,
        "provider_customer_id": provider_customer_id})).first() is not None


async def complete_link(session: AsyncSession, link_id: uuid.UUID, provider_customer_id: str) -> bool:
    return (await session.execute(_COMPLETE_LINK, {"id": link_id, "provider_customer_id": provider_customer_id})
            ).first() is not None
