"""The entitlements' named errors (features themselves are the catalog's: `plans.errors.FeatureNotFound`)."""

from __future__ import annotations

from invora.errors import NotFound


class EntitlementNotFound(NotFound):
    resource = "entitlement"


class PrivilegeNotFound(NotFound):
    resource = "privilege"


class GracePeriodNotFound(NotFound):
    resource = "grace_period"
