"""The webhook endpoints' named errors."""

from __future__ import annotations

from invora.errors import FieldError, NotFound, ValidationFailed


class WebhookEndpointNotFound(NotFound):
    resource = "webhook_endpoint"


class WebhookUrlTaken(FieldError):
    field, reason = "webhook_url", "value_already_exist"


class EndpointLimitReached(FieldError):
    field, reason = "base", "webhook_endpoints_limit_reached"


class InvalidEventTypes(FieldError):
    field, reason = "event_types", "invalid_event_types"


class WebhookUrlRefused(ValidationFailed):
    """A malformed, non-https (unless allowed) or private-address URL; `reason` is the SSRF policy's code."""

    def __init__(self, reason: str) -> None:
        super().__init__(webhook_url=[reason])
