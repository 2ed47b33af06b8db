"""Render every error as Lago's error body, including FastAPI's own validation errors."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from invora.errors import (
    BadRequest,
    DatabaseUnavailable,
    InvalidJson,
    InvoraError,
    MissingParam,
    PayloadTooLarge,
    ValidationFailed,
)
from invora.logging import get_logger
from invora.web.allow import allow_header

log = get_logger(__name__)

_CODES = {
    "missing": "value_is_mandatory",
    "string_too_long": "value_is_too_long",
    "string_too_short": "value_is_too_short",
    "too_long": "too_many_items",
    "too_short": "too_few_items",
    "greater_than": "value_is_out_of_range",
    "greater_than_equal": "value_is_out_of_range",
    "less_than": "value_is_out_of_range",
    "less_than_equal": "value_is_out_of_range",
    "extra_forbidden": "unknown_field",
    "url_parsing": "invalid_url",
    "url_scheme": "invalid_url",
    "value_error": "value_is_invalid",
    "enum": "value_is_invalid",
    "literal_error": "value_is_invalid",
    "uuid_parsing": "invalid_uuid",
    "datetime_parsing": "invalid_date",
    "datetime_from_date_parsing": "invalid_date",
    "date_parsing": "invalid_date",
    "timezone_aware": "invalid_date",
}


def _error_code(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if isinstance(ctx.get("error"), ValueError) and str(ctx["error"]).isidentifier():
        return str(ctx["error"])  # validators may raise ValueError("some_code")
    if kind in _CODES:
        return _CODES[kind]
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "invalid_type"
    return "value_is_invalid"


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        source, parts = parts[0], parts[1:]
        # bodies are wrapped in one root key ({"customer": {...}}): report the inner field
        if source == "body" and len(parts) > 1 and isinstance(parts[0], str):
            parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def validation_details(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    details: dict[str, list[str]] = {}
    for error in errors:
        codes = details.setdefault(_field_name(tuple(error.get("loc", ()))), [])
        code = _error_code(error)
        if code not in codes:
            codes.append(code)
    return details


def _render(error: InvoraError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code, headers=headers)


async def _invora_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvoraError)
    # a 405 names the methods the resource has (RFC 9110), even when it is the object's state that refuses
    return _render(exc, allow_header(request) if exc.status_code == 405 else None)


def _body_root(request: Request) -> str | None:
    """The root key of the route's JSON body when it is one wrapped object (`{"customer": {...}}`)."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    fields = getattr(model, "model_fields", None) or {}
    if len(fields) != 1:
        return None
    name, field = next(iter(fields.items()))
    return field.alias or name


def _missing_root(request: Request, errors: list[dict[str, Any]]) -> str | None:
    """Name of the root param when the only errors are "the root object is absent, null or the body empty"."""
    root = _body_root(request)
    names = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if loc == ("body",) and error.get("type") == "missing":  # no body at all
            names.append(root or "body")
        elif len(loc) == 2 and loc[0] == "body" and (
            error.get("type") == "missing" or (loc[1] == root and error.get("input", ...) is None)
        ):
            names.append(str(loc[1]))
        else:
            return None
    return names[0] if names else None


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if errors and all(e.get("loc", ("",))[0] == "path" for e in errors):
        # a malformed id in the path names no resource: Lago answers 404, not 422
        return JSONResponse({"status": 404, "error": "Not Found", "code": "not_found"}, status_code=404)
    if any(e.get("type") == "json_invalid" for e in errors):
        return _render(InvalidJson())
    if name := _missing_root(request, errors):
        # Lago (`params.require(:customer)`): an absent or empty root object is a 400 "param is missing"
        return _render(MissingParam(name))
    return _render(ValidationFailed(validation_details(errors)))


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 413:  # the body limit (`invora.web.body_limit`)
        return _render(PayloadTooLarge(str(exc.detail)), {"connection": "close"})
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    body = {"status": exc.status_code, "error": exc.detail if isinstance(exc.detail, str) else "Error",
            "code": codes.get(exc.status_code, "http_error")}
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        # Starlette's Allow names the methods of the first route matching the path only
        headers.update(allow_header(request))
    return JSONResponse(body, status_code=exc.status_code, headers=headers or None)


INTERNAL_ERROR_BODY = {"status": 500, "error": "Internal Server Error", "code": "internal_error"}


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    log.error("database_unavailable", error=repr(exc))
    return _render(DatabaseUnavailable())


async def _client_disconnect(_request: Request, _exc: Exception) -> JSONResponse:
    # the client left while sending its body: nobody reads this answer, and it is no server error
    return _render(BadRequest("the client disconnected before sending the whole body", code="client_disconnected"))


async def _unhandled(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error=repr(exc))
    return JSONResponse(INTERNAL_ERROR_BODY, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InvoraError, _invora_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    # the database refusing connections is an outage (503, retry), not a bug (500)
    for unavailable in (OperationalError, InterfaceError, ConnectionError, asyncpg.CannotConnectNowError,
                        asyncpg.TooManyConnectionsError):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    app.add_exception_handler(Exception, _unhandled)
