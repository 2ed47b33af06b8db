"""SQL of the ongoing usage refresh."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

# customers with an active wallet, in (organization, customer) order, a page after the last one seen
_CUSTOMERS = text(
    """
    SELECT DISTINCT organization_id, customer_id, external_customer_id FROM wallets
    WHERE status = 'active' AND (organization_id, customer_id) > (:org, :customer)
    ORDER BY organization_id, customer_id LIMIT :limit
    """
)


async def customers_with_wallets(session: AsyncSession, after: tuple[uuid.UUID, uuid.UUID],
                                 limit: int) -> list[RowMapping]:
    return list((await session.execute(_CUSTOMERS, {"org": after[0], "customer": after[1], "limit": limit})
                 ).mappings().all())
