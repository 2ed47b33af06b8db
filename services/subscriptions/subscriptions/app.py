"""The subscriptions service: customers, subscriptions and their billing periods, usage events and
their aggregation, entitlements and customer billing state.
"""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from subscriptions.access.billing_state_routes import router as billing_state
from subscriptions.customers.routes import router as customers
from subscriptions.entitlements.invalidation import entitlement_cache_lifespan
from subscriptions.entitlements.routes import customer_router as customer_entitlements
from subscriptions.entitlements.routes import subscription_router as subscription_entitlements
from subscriptions.fee_estimates.routes import router as fee_estimates
from subscriptions.plans.client import catalog_lifespan
from subscriptions.plans.consumer import catalog_consumers
from subscriptions.runtime import SubscriptionsRuntime
from subscriptions.settings import SubscriptionsSettings
from subscriptions.subscriptions.routes import customer_router as customer_subscriptions
from subscriptions.subscriptions.routes import router as subscriptions
from subscriptions.subscriptions.scheduler import scheduler_lifespan
from subscriptions.usage.alert_routes import router as alerts
from subscriptions.usage.lifetime_routes import router as lifetime_usage
from subscriptions.usage.routes import router as usage
from subscriptions.usage_events.routes import router as events
from subscriptions.usage_events.schemas import MAX_BATCH_BODY_BYTES

DEFINITION = ServiceDefinition(
    name="subscriptions",
    title="Invora Subscriptions",
    description=(
        "Owns customers, subscriptions and their billing periods, usage events and their "
        "aggregation, entitlements and customer billing state."
    ),
    # the entitlement check is the hottest route: first, so matching a request to it is cheapest
    routers=[customer_entitlements, customers, customer_subscriptions, billing_state, subscriptions,
             subscription_entitlements, fee_estimates, events, usage, lifetime_usage, alerts],
    background=[catalog_lifespan, entitlement_cache_lifespan, scheduler_lifespan()],
    body_limits={"/api/v1/events/batch": MAX_BATCH_BODY_BYTES},
    openapi_tags=[
        {"name": "customers", "description": "Customers (Lago API v1), upserted by `external_id`."},
        {"name": "subscriptions", "description": "Subscriptions (Lago API v1): plan versions pinned, plan changes, "
                                                 "termination, billing periods."},
        {"name": "entitlements", "description": "Subscription entitlements (Lago), customer overrides, grace "
                                                "periods and the entitlement check."},
        {"name": "billing_state", "description": "Customer billing state (active, past_due, unpaid, suspended), "
                                                 "contract mode, admin overrides and their audit log."},
        {"name": "events", "description": "Usage events (Lago API v1): idempotent, durable ingestion in batches of "
                                          "up to 1,000, with incremental rollups."},
        {"name": "usage", "description": "Current, projected and past usage of a subscription (Lago API v1), "
                                         "priced."},
        {"name": "alerts", "description": "Usage alerts on subscriptions (Lago API v1) and `alert.triggered`."},
    ],
)


def create_app(settings: SubscriptionsSettings | None = None) -> FastAPI:
    # the catalog consumers read the catalog client from the runtime the app is built with
    settings = settings or SubscriptionsSettings()
    runtime = SubscriptionsRuntime(settings=settings)
    definition = dataclasses.replace(DEFINITION, consumers=catalog_consumers(runtime))
    return build_service_app(definition, settings, runtime)
