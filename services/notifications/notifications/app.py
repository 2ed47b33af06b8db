"""The notifications service: webhook endpoints and signed, retried webhook deliveries to tenant systems."""

from __future__ import annotations

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from notifications.settings import NotificationsSettings

DEFINITION = ServiceDefinition(
    name="notifications",
    title="Invora Notifications",
    description="Owns webhook endpoints and signed, retried webhook deliveries to tenant systems.",
)


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return build_service_app(DEFINITION, settings or NotificationsSettings())
