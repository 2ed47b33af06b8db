"""The subscriptions service: customers, subscriptions and their billing periods, usage events and
their aggregation, entitlements and customer billing state.
"""

from __future__ import annotations

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from subscriptions.settings import SubscriptionsSettings

DEFINITION = ServiceDefinition(
    name="subscriptions",
    title="Invora Subscriptions",
    description=(
        "Owns customers, subscriptions and their billing periods, usage events and their "
        "aggregation, entitlements and customer billing state."
    ),
)


def create_app(settings: SubscriptionsSettings | None = None) -> FastAPI:
    return build_service_app(DEFINITION, settings or SubscriptionsSettings())
