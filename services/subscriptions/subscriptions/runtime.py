"""What the routes, the catalog consumers and the scheduler share in one process (`app.state.runtime`).

The shared runtime (`invora.runtime`: settings and the swappable clock) with the subscriptions
service's own parts: the catalog client, the metric cache and the entitlement cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from fastapi import Request

from invora.db.listen import ChannelListener
from invora.runtime import ServiceRuntime
from subscriptions.entitlements.cache import EntitlementCache
from subscriptions.plans.client import CatalogClient
from subscriptions.settings import SubscriptionsSettings
from subscriptions.usage_events.metrics import MetricCache


@dataclass
class SubscriptionsRuntime(ServiceRuntime):
    settings: SubscriptionsSettings
    # set by the catalog lifespan (tests replace it with a client over an ASGI transport)
    catalog: CatalogClient | None = None
    catalog_transport: httpx.AsyncBaseTransport | None = None
    metric_cache: MetricCache = field(default_factory=MetricCache)
    # set by the entitlement-cache lifespan; None when disabled in settings
    entitlement_cache: EntitlementCache | None = None
    entitlement_listener: ChannelListener | None = None


def get_runtime(request: Request) -> SubscriptionsRuntime:
    return request.app.state.runtime
