"""Error bodies as Lago renders them, for the OpenAPI documentation of every route (shared: `invora.web.error_docs`)."""

from __future__ import annotations

from typing import Any

from invora.web.error_docs import (  # noqa: F401 - the service's routes import them from here
    BAD_REQUEST,
    FORBIDDEN,
    LIST_ERRORS,
    NOT_ALLOWED,
    NOT_FOUND,
    READ_ERRORS,
    UNAUTHORIZED,
    UNPROCESSABLE,
    WRITE_ERRORS,
    ApiError,
    ValidationErrorBody,
    response,
)

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: response(ApiError, "A service this call depends on (the catalog) did not answer; retry."),
}
