"""The customers wallets knows: kept from the subscriptions service's `customer.*` events.

The projection's rules are the shared ones (`invora.customer_projection`); wallets keeps the base
columns only.
"""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.customer_projection.service import apply_event, ensure_external_customer_access, find, get, get_fresh
from wallets.settings import WalletsSettings
from wallets.usage.client import usage_client

__all__ = ["apply_event", "ensure_external_customer_access", "find", "get", "get_or_fetch"]


async def get_or_fetch(session: AsyncSession, settings: WalletsSettings, organization_id: uuid.UUID,
                       external_id: str) -> RowMapping:
    """`get`, asking subscriptions when the projection does not hold the customer yet (created a moment ago)."""
    customer = await find(session, organization_id, external_id)
    if customer is not None:
        return customer
    client = usage_client(settings)
    try:
        return await get_fresh(session, organization_id, external_id, client)
    finally:
        await client.aclose()
