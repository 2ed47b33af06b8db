"""Who may read and write the subscriptions service's resources.

Reads: admin, billing_admin and service keys (other services ask for fresh answers); writes:
admin and billing_admin; customer billing-state overrides: billing_admin (super_admin always
passes). Tenant keys may read only their own customer and check its entitlements.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from invora.auth.deps import READ_ROLES, require_roles
from invora.auth.principal import Principal
from invora.errors import Forbidden

# reads and writes: the shared policy (`invora.auth.deps.Reader`, `Writer`)
BillingAdmin = Annotated[Principal, Depends(require_roles("billing_admin"))]
ReaderOrTenant = Annotated[Principal, Depends(require_roles(*READ_ROLES, "tenant"))]


def ensure_customer_access(principal: Principal, external_customer_id: str) -> None:
    """A tenant key sees its own customer only; staff keys see every customer of their organization."""
    if principal.has_any(set(READ_ROLES) | {"super_admin"}):
        return
    if principal.customer is None or principal.customer != external_customer_id:
        raise Forbidden("this key is limited to another customer", code="forbidden_customer")


# the hot path: the shared verifier remembers verified keys briefly (settings.auth_cache_seconds)
CheckPrincipal = ReaderOrTenant
