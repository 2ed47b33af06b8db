"""The `Allow` header of a 405: every method the requested resource has, as the OpenAPI document lists them.

FastAPI declares one route per method, and Starlette's 405 names only the first route matching
the path. The document is the contract clients (and fuzzers) read, so the methods come from it:
the path templates matching the request's path, the most literal one first (`/events/batch`
before `/events/{transaction_id}`), as OpenAPI's path matching has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI, Request
from starlette.routing import get_route_path

from invora.logging import get_logger

log = get_logger(__name__)

_METHODS = ("delete", "get", "head", "options", "patch", "post", "put", "trace")
_PARAMETER = re.compile(r"\{[^}/]+\}")


@dataclass(frozen=True, slots=True)
class _Resource:
    pattern: re.Pattern[str]
    parameters: int
    methods: tuple[str, ...]


def _resources(app: FastAPI) -> list[_Resource]:
    cached = getattr(app.state, "allow_resources", None)
    if cached is None:
        cached = []
        for template, item in app.openapi().get("paths", {}).items():
            methods = tuple(method.upper() for method in _METHODS if method in item)
            cached.append(_Resource(re.compile(_template_regex(template)), len(_PARAMETER.findall(template)),
                                    methods))
        app.state.allow_resources = cached
    return cached


def _template_regex(template: str) -> str:
    pieces, position = [], 0
    for parameter in _PARAMETER.finditer(template):
        pieces += [re.escape(template[position:parameter.start()]), "[^/]+"]
        position = parameter.end()
    pieces.append(re.escape(template[position:]))
    return "".join(pieces)


def allowed_methods(request: Request) -> list[str]:
    path = get_route_path(request.scope)
    matching = [resource for resource in _resources(request.app) if resource.pattern.fullmatch(path)]
    if not matching:
        return []
    return list(min(matching, key=lambda resource: resource.parameters).methods)


def allow_header(request: Request) -> dict[str, str]:
    try:
        methods = allowed_methods(request)
    except Exception as exc:  # noqa: BLE001 - a 405 must not become a 500 for want of its header
        log.error("allow_header_failed", error=repr(exc))
        return {}
    return {"Allow": ", ".join(methods)} if methods else {}
