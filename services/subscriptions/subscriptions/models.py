"""Every ORM model of the subscriptions service, imported so Alembic sees the whole schema."""

from subscriptions.access.models import BillingStateAudit, CustomerEntitlementOverride, GracePeriod
from subscriptions.billing_entities.models import KnownBillingEntity
from subscriptions.customers.models import Customer
from subscriptions.db import PLATFORM_MODELS
from subscriptions.subscriptions.models import (
    BillingPeriod,
    CachedPlanVersion,
    PlanEntitlementsProjection,
    Subscription,
)
from subscriptions.usage.alert_models import UsageAlert
from subscriptions.usage.lifetime_models import LifetimeUsage
from subscriptions.usage_events.models import CachedBillableMetric, UsageEvent, UsageRollup

__all__ = [
    "PLATFORM_MODELS", "BillingPeriod", "BillingStateAudit", "CachedPlanVersion", "Customer",
    "CustomerEntitlementOverride", "GracePeriod", "PlanEntitlementsProjection", "Subscription",
    "CachedBillableMetric", "KnownBillingEntity", "LifetimeUsage", "UsageAlert", "UsageEvent", "UsageRollup",
]
