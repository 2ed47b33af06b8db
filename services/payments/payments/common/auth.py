"""Who may read and write the payments service's resources.

Reads: admin, billing_admin and service keys (tenant keys: their own customer's payments and payment
methods). Writes (provider connections, manual payments, payment methods): admin and billing_admin.
Refunds: billing_admin (admin holds every right too).
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
Refunder = Annotated[Principal, Depends(require_roles("billing_admin", "admin"))]


def ensure_customer_access(principal: Principal, external_customer_id: str) -> None:
    if principal.has_any(set(READ_ROLES) | {"super_admin"}):
        return
    if principal.customer is None or principal.customer != external_customer_id:
        raise Forbidden("this key is limited to another customer", code="forbidden_customer")
