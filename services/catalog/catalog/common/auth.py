"""Who may read and write the catalog.

Reads: admin, billing_admin and service keys (other services ask the catalog for fresh
prices); super_admin always passes. Writes: admin and billing_admin. Tenant keys get 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from invora.auth.deps import require_roles
from invora.auth.principal import Principal

READ_ROLES = ("admin", "billing_admin", "service")
WRITE_ROLES = ("admin", "billing_admin")

Reader = Annotated[Principal, Depends(require_roles(*READ_ROLES))]
Writer = Annotated[Principal, Depends(require_roles(*WRITE_ROLES))]
