"""The customers wallets knows: kept from the subscriptions service's `customer.*` events.

The projection's rules are the shared ones (`invora.customer_projection`); wallets keeps the base
columns only. Every route naming a customer by external id resolves it with `get_or_fetch`: a customer
created a moment ago, whose `customer.created` is still on its way, is asked of subscriptions (Lago, one
database, never answers 404 there).
"""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.customer_projection.service import apply_event, ensure_external_customer_access, find, get, get_fresh
from invora.service_client import ServiceClient

__all__ = ["apply_event", "ensure_external_customer_access", "find", "get", "get_or_fetch"]


async def get_or_fetch(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                       external_id: str) -> RowMapping:
    """The live customer; asked of subscriptions (the runtime's client) when the projection does not hold it
    yet; 404 `customer_not_found` when subscriptions does not know it either or does not answer."""
    return await get_fresh(session, organization_id, external_id, subscriptions)
