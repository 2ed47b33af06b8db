"""FastAPI dependencies: who is calling, and may they?"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from invora.auth.errors import ForbiddenCustomer, ForbiddenRole
from invora.auth.principal import Principal

# auto_error=False: our verifier renders Lago's 401 body rather than FastAPI's 403
_bearer = HTTPBearer(auto_error=False, description="An Invora API key (signed JWT)")

ADMIN_ROLES = frozenset({"admin", "super_admin"})


async def authenticate(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = request.app.state.verifier.verify_header(request.headers.get("authorization"))
    request.state.principal = principal
    return principal


def require_roles(*roles: str) -> Callable[..., Principal]:
    """A dependency that lets through callers holding any of `roles` (super_admin always passes)."""
    allowed = frozenset(roles) | {"super_admin"}

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.has_any(allowed):
            raise ForbiddenRole(f"requires one of the roles: {', '.join(sorted(roles))}")
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    dependency.invora_roles = allowed  # type: ignore[attr-defined] # read by the OpenAPI document (x-invora-roles)
    return dependency


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
AdminPrincipal = Annotated[Principal, Depends(require_roles("admin"))]

# the suite's usual policy: staff and other services read (services ask for fresh answers), staff
# write; super_admin always passes and tenant keys get 403 unless a route says otherwise
READ_ROLES = ("admin", "billing_admin", "service")
WRITE_ROLES = ("admin", "billing_admin")
Reader = Annotated[Principal, Depends(require_roles(*READ_ROLES))]
Writer = Annotated[Principal, Depends(require_roles(*WRITE_ROLES))]
# routes a tenant key (limited to one customer) may call too; they check `ensure_customer_access`
ReaderOrTenant = Annotated[Principal, Depends(require_roles(*READ_ROLES, "tenant"))]


def is_staff(principal: Principal) -> bool:
    return principal.has_any(set(READ_ROLES) | {"super_admin"})


def ensure_customer_access(principal: Principal, customer_id: uuid.UUID | None) -> None:
    """A tenant key sees its own customer only; staff keys see every customer of their organization.

    `customer_id` is the internal id (`lago_id`) of the customer the request touches (None: no such
    customer), never its external id: a deleted customer's external id can be given to a new customer,
    and a tenant key must not pass from one to the other.
    """
    if is_staff(principal):
        return
    if customer_id is None or principal.customer_id != customer_id:
        raise ForbiddenCustomer()
