"""The catalog service: what a business sells and how it is priced.

Billable metrics, plans and their immutable versions, charges and charge filters, fixed
charges, add-ons, features and plan entitlements, coupons and taxes, in Lago's API v1 shapes.
Every change publishes its event (with the full object) through the outbox.
"""

from __future__ import annotations

from fastapi import FastAPI

from catalog.add_ons.routes import router as add_ons
from catalog.billable_metrics.routes import router as billable_metrics
from catalog.billing_entities.routes import router as billing_entities
from catalog.coupons.routes import router as coupons
from catalog.features.routes import router as features
from catalog.organizations.routes import router as organizations
from catalog.plans.charge_routes import router as plan_charges
from catalog.plans.entitlement_routes import router as plan_entitlements
from catalog.plans.routes import router as plans
from catalog.plans.routes import versions_router as plan_versions
from catalog.settings import CatalogSettings
from catalog.taxes.routes import router as taxes
from invora.app import ServiceDefinition, build_service_app

DEFINITION = ServiceDefinition(
    name="catalog",
    title="Invora Catalog",
    description=(
        "Owns billable metrics, plans and immutable plan versions, charges, add-ons, features, coupons, "
        "taxes and the organization's settings: what a business sells and how it is priced. Lago API v1 "
        "compatible; see docs/catalog.md."
    ),
    routers=[billable_metrics, plans, plan_versions, plan_charges, plan_entitlements, add_ons, features, coupons,
             taxes, organizations, billing_entities],
    openapi_tags=[
        {"name": "billable_metrics", "description": "What is measured and how events aggregate into units."},
        {"name": "plans", "description": "Plans, their charges, fixed charges and filters. Price changes create "
                                          "immutable plan versions."},
        {"name": "plan_versions", "description": "Immutable plan versions: exactly what was sold."},
        {"name": "entitlements", "description": "Features granted by a plan, with privilege values."},
        {"name": "add_ons", "description": "One-time items with a price and taxes."},
        {"name": "features", "description": "Capabilities with typed privileges."},
        {"name": "coupons", "description": "Discount definitions."},
        {"name": "taxes", "description": "Tax rates referenced by code."},
        {"name": "organizations", "description": "The organization's settings: legal details, numbering, grace "
                                                  "period, payment term, e-mail and webhook defaults."},
        {"name": "billing_entities", "description": "Units that issue invoices: legal details, numbering, invoice "
                                                     "settings and their own taxes."},
    ],
)


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    return build_service_app(DEFINITION, settings or CatalogSettings())
