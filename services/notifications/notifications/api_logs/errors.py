"""The API logs' named errors."""

from __future__ import annotations

from invora.errors import NotFound


class ApiLogNotFound(NotFound):
    resource = "api_log"

