"""The notifications service: webhook endpoints and signed, retried webhook deliveries to tenant systems."""

from __future__ import annotations

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from invora.bus.consumer import ConsumerOptions
from notifications.deliveries.routes import router as deliveries_router
from notifications.delivery_worker.worker import delivery_worker_lifespan
from notifications.endpoints.routes import router as endpoints_router
from notifications.fanout.consumer_spec import fanout_consumer_spec
from notifications.runtime import NotificationsRuntime
from notifications.settings import NotificationsSettings
from notifications.signing.lifespan import signing_key_lifespan
from notifications.signing.routes import router as signing_router

TITLE = "Invora Notifications"
DESCRIPTION = "Owns webhook endpoints and signed, retried webhook deliveries to tenant systems."


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = NotificationsRuntime(settings=settings)
    consumer_options = ConsumerOptions(
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=max(settings.consumer_session_timeout_ms // 3, 300),
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
    )
    definition = ServiceDefinition(
        name="notifications",
        title=TITLE,
        description=DESCRIPTION,
        # the public-key routes come before /webhooks/{lago_id}
        routers=[signing_router, deliveries_router, endpoints_router],
        # the fan-out consumer handles a fetched batch per transaction (see fanout/consumer_spec.py)
        consumers=[fanout_consumer_spec(runtime)],
        consumer_options=consumer_options,
        background=[signing_key_lifespan(runtime), delivery_worker_lifespan(runtime)],
        openapi_tags=[
            {"name": "webhook_endpoints", "description": "Where an organization's events are sent, and how."},
            {"name": "webhooks", "description": "Deliveries, their attempts, and the JWT public key."},
        ],
    )
    app = build_service_app(definition, settings)
    app.state.runtime = runtime
    return app
