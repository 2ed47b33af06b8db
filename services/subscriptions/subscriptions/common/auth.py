"""Who may read and write the subscriptions service's resources.

Reads: admin, billing_admin and service keys (other services ask for fresh answers); writes:
admin and billing_admin; customer billing-state overrides: billing_admin (super_admin always
passes). Tenant keys may read only their own customer and check its entitlements. The suite's
policy (`Reader`, `Writer`, `ReaderOrTenant`, `ensure_customer_access`) is in `invora.auth.deps`;
this service adds the billing-state role and the entitlement check's principal.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from invora.auth.deps import ReaderOrTenant, require_roles
from invora.auth.principal import Principal

BillingAdmin = Annotated[Principal, Depends(require_roles("billing_admin"))]

# the hot path: the shared verifier remembers verified keys briefly (settings.auth_cache_seconds)
CheckPrincipal = ReaderOrTenant
