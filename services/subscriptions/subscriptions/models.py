"""Every ORM model of the subscriptions service, imported so Alembic sees the whole schema."""

from subscriptions.access.models import BillingStateAudit, CustomerEntitlementOverride, GracePeriod
from subscriptions.customers.models import Customer
from subscriptions.db import PLATFORM_MODELS
from subscriptions.subscriptions.models import (
    BillingPeriod,
    CachedPlanVersion,
    PlanEntitlementsProjection,
    Subscription,
)

__all__ = [
    "PLATFORM_MODELS", "BillingPeriod", "BillingStateAudit", "CachedPlanVersion", "Customer",
    "CustomerEntitlementOverride", "GracePeriod", "PlanEntitlementsProjection", "Subscription",
]
