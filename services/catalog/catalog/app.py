"""The catalog service: billable metrics, plans and immutable plan versions, charges, add-ons, features, coupons and taxes: what a business sells and how it is priced."""

from __future__ import annotations

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from catalog.settings import CatalogSettings

DEFINITION = ServiceDefinition(
    name="catalog",
    title="Invora Catalog",
    description="Owns billable metrics, plans and immutable plan versions, charges, add-ons, features, coupons and taxes: what a business sells and how it is priced.",
)


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    return build_service_app(DEFINITION, settings or CatalogSettings())
