"""The deliveries' named errors."""

from __future__ import annotations

from invora.errors import NotFound


class WebhookNotFound(NotFound):
    resource = "webhook"
