"""Who may read and write the wallets service's resources.

Reads: admin, billing_admin and service keys; writes: admin and billing_admin (super_admin always
passes). Tenant keys may read their own customer's wallets, transactions, credit view and balance
history, and nothing else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from invora.auth.deps import require_roles
from invora.auth.principal import Principal
from invora.errors import Forbidden

READ_ROLES = ("admin", "billing_admin", "service")
WRITE_ROLES = ("admin", "billing_admin")

Reader = Annotated[Principal, Depends(require_roles(*READ_ROLES))]
Writer = Annotated[Principal, Depends(require_roles(*WRITE_ROLES))]
ReaderOrTenant = Annotated[Principal, Depends(require_roles(*READ_ROLES, "tenant"))]


def is_staff(principal: Principal) -> bool:
    return principal.has_any(set(READ_ROLES) | {"super_admin"})


def ensure_customer_access(principal: Principal, external_customer_id: str) -> None:
    """A tenant key sees its own customer only; staff keys see every customer of their organization."""
    if is_staff(principal):
        return
    if principal.customer is None or principal.customer != external_customer_id:
        raise Forbidden("this key is limited to another customer", code="forbidden_customer")
