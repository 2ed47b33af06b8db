"""Error bodies as Lago renders them, for the OpenAPI documentation of every route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ApiError(BaseModel):
    status: int
    error: str
    code: str


class ValidationErrorBody(ApiError):
    error_details: dict[str, list[str]] = Field(
        description='Field → error codes, e.g. {"email": ["invalid_email_format"]}.')


def _response(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"model": model, "description": description}


BAD_REQUEST = {400: _response(ApiError, "Malformed body: invalid JSON, or the root object is missing.")}
UNAUTHORIZED = {401: _response(ApiError, "Missing or invalid API key.")}
FORBIDDEN = {403: _response(ApiError, "The key's roles do not allow this operation.")}
NOT_FOUND = {404: _response(ApiError, "No such object in the caller's organization (code `<object>_not_found`).")}
NOT_ALLOWED = {405: _response(ApiError, "The operation is not allowed on this object in its state.")}
UNPROCESSABLE = {422: _response(ValidationErrorBody, "Validation failed; nothing was saved.")}
UNAVAILABLE = {503: _response(ApiError, "A service this call depends on (the catalog) did not answer; retry.")}

READ_ERRORS: dict[int | str, dict[str, Any]] = {**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND}
LIST_ERRORS: dict[int | str, dict[str, Any]] = {**UNAUTHORIZED, **FORBIDDEN, **UNPROCESSABLE}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **BAD_REQUEST, **UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND, **NOT_ALLOWED, **UNPROCESSABLE,
}
