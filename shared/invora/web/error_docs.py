"""Error bodies as Lago renders them, as models and `responses=` entries for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ApiError(BaseModel):
    status: int
    error: str
    code: str


class ValidationErrorBody(ApiError):
    error_details: dict[str, list[str]] = Field(
        description='Field → error codes, e.g. {"code": ["value_already_exist"], "email": ["invalid_email_format"]}.')


def response(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"model": model, "description": description}


BAD_REQUEST = {400: response(ApiError, "Malformed body: invalid JSON, or the root object is missing.")}
UNAUTHORIZED = {401: response(ApiError, "Missing or invalid API key.")}
FORBIDDEN = {403: response(ApiError, "The key's roles do not allow this operation.")}
NOT_FOUND = {404: response(ApiError, "No such object in the caller's organization (code `<object>_not_found`).")}
NOT_ALLOWED = {405: response(ApiError, "The operation is not allowed on this object in its state.")}
UNPROCESSABLE = {422: response(ValidationErrorBody, "Validation failed; nothing was saved.")}

READ_ERRORS: dict[int | str, dict[str, Any]] = {**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND}
LIST_ERRORS: dict[int | str, dict[str, Any]] = {**UNAUTHORIZED, **FORBIDDEN, **UNPROCESSABLE}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **BAD_REQUEST, **UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND, **NOT_ALLOWED, **UNPROCESSABLE,
}
CREATE_ERRORS: dict[int | str, dict[str, Any]] = {**BAD_REQUEST, **UNAUTHORIZED, **FORBIDDEN, **UNPROCESSABLE}
