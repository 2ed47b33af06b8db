"""Who may read and write invoicing resources.

Reads: admin, billing_admin and service keys; writes: admin and billing_admin. A tenant key reads
only its own customer's invoices and fees (`ensure_customer_access`, and list filters forced to it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from invora.auth.deps import require_roles
from invora.auth.principal import Principal
from invora.errors import Forbidden

READ_ROLES = ("admin", "billing_admin", "service")
WRITE_ROLES = ("admin", "billing_admin")

Writer = Annotated[Principal, Depends(require_roles(*WRITE_ROLES))]
ReaderOrTenant = Annotated[Principal, Depends(require_roles(*READ_ROLES, "tenant"))]


def is_tenant(principal: Principal) -> bool:
    return not principal.has_any(set(READ_ROLES) | {"super_admin"})


def ensure_customer_access(principal: Principal, external_customer_id: str) -> None:
    if is_tenant(principal) and (principal.customer is None or principal.customer != external_customer_id):
        raise Forbidden("this key is limited to another customer", code="forbidden_customer")
