"""Who may read and write the subscriptions service's resources.

Reads: admin, billing_admin and service keys (other services ask for fresh answers); writes:
admin and billing_admin; customer billing-state overrides: billing_admin (super_admin always
passes). Tenant keys may read only their own customer and check its entitlements. The suite's
policy (`Reader`, `Writer`, `ReaderOrTenant`, `ensure_customer_access`) is in `invora.auth.deps`;
this service adds the billing-state role, the entitlement check's principal and `accessible_customer`.

A tenant key names its customer by internal id (`lago_id`): a path's external id is resolved to the
live customer holding it, and that customer must be the key's. A deleted customer's external id
reused by a new customer therefore gives neither customer's key the other's data (issue 11 item 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.deps import ReaderOrTenant, ensure_customer_access, require_roles
from invora.auth.principal import Principal

if TYPE_CHECKING:
    from subscriptions.customers.models import Customer

BillingAdmin = Annotated[Principal, Depends(require_roles("billing_admin"))]

# the hot path: the shared verifier remembers verified keys briefly (settings.auth_cache_seconds)
CheckPrincipal = ReaderOrTenant


async def accessible_customer(session: AsyncSession, principal: Principal, external_customer_id: str) -> Customer:
    """The live customer with this external id, when the key may see it: 403 for a tenant key of another
    customer (whether or not this one exists), 404 for staff keys when there is none."""
    from subscriptions.customers import service as customers
    from subscriptions.customers.errors import CustomerNotFound

    customer = await customers.find(session, principal.organization_id, external_customer_id)
    ensure_customer_access(principal, customer.id if customer is not None else None)
    if customer is None:
        raise CustomerNotFound()
    return customer
