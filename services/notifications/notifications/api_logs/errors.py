"""The API logs' named errors."""

from __future__ import annotations

from invora.errors import FieldError, NotFound


class ApiLogNotFound(NotFound):
    resource = "api_log"


class InvalidHttpStatus(FieldError):
    field = "http_statuses"
    reason = "invalid_http_status"
