"""Every ORM model of the catalog service, imported so Alembic sees the whole schema."""

from catalog.add_ons.models import AddOn
from catalog.billable_metrics.models import BillableMetric
from catalog.billing_entities.models import BillingEntity
from catalog.coupons.models import Coupon, CouponTarget
from catalog.db import PLATFORM_MODELS
from catalog.features.models import Feature, FeaturePrivilege
from catalog.organizations.models import Organization
from catalog.plans.models import (
    Charge,
    FixedCharge,
    Plan,
    PlanEntitlement,
    PlanVersion,
    PlanVersionCharge,
    PlanVersionFixedCharge,
)
from catalog.taxes.models import Tax

__all__ = [
    "PLATFORM_MODELS", "AddOn", "BillableMetric", "BillingEntity", "Charge", "Coupon", "CouponTarget", "Feature",
    "FeaturePrivilege",
    "FixedCharge", "Organization", "Plan", "PlanEntitlement", "PlanVersion", "PlanVersionCharge",
    "PlanVersionFixedCharge", "Tax",
]
