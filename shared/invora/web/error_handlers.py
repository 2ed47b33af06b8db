"""Render every error as Lago's error body, including FastAPI's own validation errors."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from invora.errors import BadRequest, InvoraError, ValidationFailed
from invora.logging import get_logger

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
    if kind in _CODES:
        return _CODES[kind]
    ctx = error.get("ctx") or {}
    if isinstance(ctx.get("error"), ValueError) and str(ctx["error"]).isidentifier():
        return str(ctx["error"])  # validators may raise ValueError("some_code")
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


def _render(error: InvoraError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code)


async def _invora_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvoraError)
    return _render(exc)


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return _render(BadRequest("request body is not valid JSON", code="invalid_json"))
    root_missing = [e for e in errors if e.get("type") == "missing" and len(e.get("loc", ())) == 2
                    and e["loc"][0] == "body"]
    if root_missing and len(root_missing) == len(errors):
        # Lago: a missing root object is a 400 "param is missing"
        name = root_missing[0]["loc"][1]
        return _render(BadRequest(f"param is missing or the value is empty: {name}", code="missing_param"))
    return _render(ValidationFailed(validation_details(errors)))


async def _http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    body = {"status": exc.status_code, "error": exc.detail if isinstance(exc.detail, str) else "Error",
            "code": codes.get(exc.status_code, "http_error")}
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unhandled(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error=repr(exc))
    return JSONResponse({"status": 500, "error": "Internal Server Error", "code": "internal_error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InvoraError, _invora_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unhandled)
