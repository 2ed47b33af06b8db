"""Every ORM model of the notifications service, imported so Alembic sees the whole schema."""

from notifications.activity_logs.models import ActivityLog
from notifications.api_logs.models import ApiLog
from notifications.db import PLATFORM_MODELS
from notifications.deliveries.models import WebhookAttempt, WebhookDelivery, WebhookMessage
from notifications.endpoints.models import WebhookEndpoint
from notifications.signing.models import WebhookSigningKey

__all__ = [
    "PLATFORM_MODELS", "ActivityLog", "ApiLog",
    "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint", "WebhookMessage", "WebhookSigningKey",
]
