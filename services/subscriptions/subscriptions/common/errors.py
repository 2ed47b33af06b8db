"""The subscriptions service's own error answer for the OpenAPI document (the shared ones: `invora.web.error_docs`)."""

from __future__ import annotations

from typing import Any

from invora.web.error_docs import ApiError, response

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: response(ApiError, "A service this call depends on (the catalog) did not answer; retry."),
}
