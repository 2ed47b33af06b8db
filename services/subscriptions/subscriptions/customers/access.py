"""Which customer a key may reach through a path's external id (the suite's policy, `Reader`, `Writer`,
`ReaderOrTenant`, `ensure_customer_access`, is in `invora.auth.deps`).

A tenant key names its customer by internal id (`lago_id`): a path's external id is resolved to the
live customer holding it, and that customer must be the key's. A deleted customer's external id
reused by a new customer therefore gives neither customer's key the other's data (issue 11 item 3).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.deps import ensure_customer_access
from invora.auth.principal import Principal
from subscriptions.customers import service as customers
from subscriptions.customers.errors import CustomerNotFound
from subscriptions.customers.models import Customer


async def accessible_customer(session: AsyncSession, principal: Principal, external_customer_id: str) -> Customer:
    """The live customer with this external id, when the key may see it: 403 for a tenant key of another
    customer (whether or not this one exists), 404 for staff keys when there is none."""
    customer = await customers.find(session, principal.organization_id, external_customer_id)
    ensure_customer_access(principal, customer.id if customer is not None else None)
    if customer is None:
        raise CustomerNotFound()
    return customer
