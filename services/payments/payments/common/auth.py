"""Who may read and write the payments service's resources: the suite's policy (`invora.auth.deps`), plus
refunds, which move money back: billing_admin (and admin, which holds every right)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from invora.auth.deps import Reader, ReaderOrTenant, Writer, ensure_customer_access, is_staff, require_roles
from invora.auth.principal import Principal

Refunder = Annotated[Principal, Depends(require_roles("billing_admin", "admin"))]

__all__ = ["Reader", "ReaderOrTenant", "Refunder", "Writer", "ensure_customer_access", "is_staff"]
