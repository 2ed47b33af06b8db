"""Error bodies as Lago renders them, for the OpenAPI documentation of every route (shared: `invora.web.error_docs`)."""

from __future__ import annotations

from invora.web.error_docs import (  # noqa: F401 - the catalog's routes import them from here
    BAD_REQUEST,
    CREATE_ERRORS,
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
)
