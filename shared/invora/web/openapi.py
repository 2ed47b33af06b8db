"""The OpenAPI document every service serves, made to say exactly what the service does.

FastAPI builds it from the routes; `install_openapi` then

- documents the error answers any route of a kind can give (401/403 with a key, 404 with an id
  in the path, 400 and 413 with a body, 422 with any input), so no status code is a surprise;
- names, on each operation, the roles it lets through (`x-invora-roles`, from its `require_roles`
  dependency; absent: any valid key) and, with a body, the largest body it takes
  (`x-invora-max-body-bytes`), which the suite's security tests read;
- writes the suite-wide rule that no string may hold NUL as a `pattern` on every string schema
  that has none (nor an enum, const or format) of its own;
- works around three quirks: a dict whose keys have a `pattern` comes out of pydantic as
  `patternProperties` (which lets other keys through unchecked) instead of `propertyNames`;
  numeric bounds behind a validator come out as `ge`/`le` instead of `minimum`/`maximum`; and
  FastAPI's document model turns every bound into a float, which near 2^63 no longer says which
  integers are in (whole bounds are written back as integers).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from invora.web.error_docs import ApiError, ValidationErrorBody
from invora.web.inputs import NO_NUL_PATTERN

_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum",
           "multiple_of": "multipleOf"}
_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")

_ERROR_DESCRIPTIONS = {
    "400": "Malformed body: invalid JSON, or the root object is missing.",
    "401": "Missing or invalid API key.",
    "403": "The key's roles do not allow this operation.",
    "404": "No such object in the caller's organization (code `<object>_not_found`).",
    "413": "Request body larger than the operation's limit (`x-invora-max-body-bytes`).",
    "422": "Validation failed; nothing was saved.",
}


def install_openapi(app: FastAPI, max_body_bytes: int | None = None,
                    body_limits: dict[str, int] | None = None) -> None:
    """Replace `app.openapi` with a generator that completes FastAPI's document (once, then cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = complete(generate())
            _document_access(app, document, max_body_bytes, body_limits or {})
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Fix the schema quirks and add the error responses every operation can give."""
    _fix_schemas(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (ApiError, ValidationErrorBody):
        schemas.setdefault(model.__name__, model.model_json_schema(ref_template="#/components/schemas/{model}"))
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                _document_errors(path, operation)
    return document


def api_routes(routes: list) -> list[APIRoute]:
    """Every API route, those of included routers too."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (included := getattr(route, "original_router", None)) is not None:  # FastAPI's included router
            found.extend(api_routes(included.routes))
    return found


def _roles(dependant: Dependant) -> frozenset[str] | None:
    for dependency in dependant.dependencies:
        roles = getattr(dependency.call, "invora_roles", None)
        if roles is not None:
            return roles
        if (found := _roles(dependency)) is not None:
            return found
    return None


def _document_access(app: FastAPI, document: dict[str, Any], max_body_bytes: int | None,
                     body_limits: dict[str, int]) -> None:
    paths = document.get("paths", {})
    for route in api_routes(app.router.routes):
        item = paths.get(route.path_format)
        if item is None:
            continue
        for method in route.methods:
            operation = item.get(method.lower())
            if operation is None:
                continue
            roles = _roles(route.dependant)
            if roles is not None:
                operation["x-invora-roles"] = sorted(roles)
            if operation.get("requestBody") and max_body_bytes is not None:
                operation["x-invora-max-body-bytes"] = body_limits.get(route.path_format, max_body_bytes)


def _document_errors(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    codes: list[str] = []
    if operation.get("security"):
        codes += ["401", "403"]
    if _PATH_PARAMETER.search(path):
        codes.append("404")  # a malformed or unknown id names nothing
    if operation.get("requestBody"):
        codes += ["400", "413", "422"]
    if operation.get("requestBody") or any(p.get("in") == "query" for p in operation.get("parameters", [])):
        codes.append("422")
    for code in codes:
        if code not in responses:
            model = ValidationErrorBody if code == "422" else ApiError
            responses[code] = {
                "description": _ERROR_DESCRIPTIONS[code],
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
            }


def _fix_schemas(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _fix_schemas(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") in ("integer", "number"):
        for key, standard in _BOUNDS.items():
            if key in node:
                node.setdefault(standard, node.pop(key))
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if isinstance(node.get(key), float) and node[key].is_integer():
                node[key] = int(node[key])
    if node.get("type") == "string" and not {"pattern", "enum", "const", "format"} & node.keys():
        # every string a route reads is refused with NUL (invora.web.strict_requests): say so
        node["pattern"] = NO_NUL_PATTERN
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1 and "additionalProperties" not in node:
        # pydantic's spelling of dict[Annotated[str, pattern], V]: every key must match, values are V
        (pattern, values), = patterns.items()
        del node["patternProperties"]
        node["additionalProperties"] = values
        node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
    for value in node.values():
        _fix_schemas(value)
