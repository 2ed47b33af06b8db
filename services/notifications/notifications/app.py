"""The notifications service: webhook endpoints and signed, retried webhook deliveries to tenant systems."""

from __future__ import annotations

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from notifications.activity_logs.routes import router as activity_logs_router
from notifications.api_logs.routes import router as api_logs_router
from notifications.deliveries.routes import router as deliveries_router
from notifications.delivery_worker.worker import delivery_worker_lifespan
from notifications.endpoints.routes import router as endpoints_router
from notifications.fanout.consumer_spec import fanout_consumer_spec
from notifications.logs_retention import log_retention_lifespan
from notifications.runtime import NotificationsRuntime
from notifications.settings import NotificationsSettings
from notifications.signing.lifespan import signing_key_lifespan
from notifications.signing.routes import router as signing_router

TITLE = "Invora Notifications"
DESCRIPTION = ("Owns webhook endpoints and signed, retried webhook deliveries to tenant systems, and the suite's "
               "activity and API logs.")


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = NotificationsRuntime(settings=settings)
    definition = ServiceDefinition(
        name="notifications",
        title=TITLE,
        description=DESCRIPTION,
        # the public-key routes come before /webhooks/{lago_id}
        routers=[signing_router, deliveries_router, endpoints_router, activity_logs_router, api_logs_router],
        # the fan-out consumer handles a fetched batch per transaction (see fanout/consumer_spec.py); the
        # organization's `webhook_url` becomes an endpoint (endpoints/organization_default.py)
        consumers=[fanout_consumer_spec(runtime)],
        background=[signing_key_lifespan(runtime), delivery_worker_lifespan(runtime), log_retention_lifespan(runtime)],
        openapi_tags=[
            {"name": "webhook_endpoints", "description": "Where an organization's events are sent, and how."},
            {"name": "webhooks", "description": "Deliveries, their attempts, and the JWT public key."},
            {"name": "activity_logs", "description": "Who changed what through the API (every service's events)."},
            {"name": "api_logs", "description": "Every service's mutating API requests."},
        ],
    )
    return build_service_app(definition, settings, runtime)
