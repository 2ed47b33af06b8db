"""One set of rules for what every route of every service reads from a request, applied before FastAPI
parses and validates it (so no route, and no field a schema forgot, can opt out):

- **JSON bodies** are UTF-8 without a byte order mark (RFC 8259 §8.1; UTF-16/32 and BOM-prefixed
  bodies are refused), hold no duplicated object key at any depth (RFC 8259 leaves the meaning open:
  the last value winning silently is how two parsers come to read one body differently), and no
  `NaN`/`Infinity` (not JSON). Each is a 400 `invalid_json` naming the problem.
- **Every string** a route reads from a JSON body (values and keys, whatever the field's type; unknown
  fields, which are ignored, are left alone) and every query parameter follows the text rule of
  `invora.web.inputs` (no NUL, no lone surrogate): a field-level 422 `invalid_characters`. A path
  parameter that breaks it names nothing: 404.

The body is parsed here once, with these rules, and handed to FastAPI as the request's JSON (its own
parse is skipped), so the rules cost one pass of a hook per JSON object. The scan for NUL and
surrogates first looks for their escapes in the raw text (`\\u0000`, `\\ud8..`–`\\udf..`; a raw NUL is
not valid JSON), and walks the document only when one is there.
"""

from __future__ import annotations

import email.message
import json
import re
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, request_response
from starlette.requests import Request
from starlette.responses import Response

from invora.errors import InvalidJson, InvoraError
from invora.web.inputs import storable_text, unstorable_strings
from invora.web.openapi import api_routes

_ESCAPED_UNSTORABLE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_BOM = b"\xef\xbb\xbf"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class UnknownPathParameter(InvoraError):
    """A path parameter no stored row can have (NUL…): it names nothing."""

    status_code = 404
    code = "not_found"


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise InvalidJson(f"duplicated key {json.dumps(duplicate)}")
    return result


def _no_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_no_constant)


def parse_json_body(body: bytes, body_field: Any = None) -> Any:
    """The request's JSON under the rules above (raises `InvalidJson`; `RequestValidationError` for bad strings,
    together with the body's other validation errors when `body_field`, the route's body, is given)."""
    if body.startswith(_BOM):
        raise InvalidJson("a byte order mark is not allowed (RFC 8259)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson("it must be UTF-8 (RFC 8259)") from exc
    if "\x00" in text[:4]:  # UTF-16/32 text of ASCII reads as valid UTF-8 with NULs between the characters
        raise InvalidJson("it must be UTF-8 (RFC 8259)")
    try:
        document = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidJson() from exc  # as FastAPI's own parse answered
    except RecursionError as exc:
        raise InvalidJson("nested too deeply") from exc
    if _ESCAPED_UNSTORABLE.search(text) and any(True for _ in unstorable_strings(document)):
        _refuse_unstorable_input(document, body_field)
    return document


def _refuse_unstorable_input(document: Any, body_field: Any) -> None:
    """Refuse the unstorable strings the route would read; those of ignored (unknown) fields are left alone.

    The body is validated against the route's schema: its own errors come first (a field typed
    `StorableText` names the characters itself); otherwise every string the validated body keeps
    (by its JSON names) is checked, whatever its type, so NUL never reaches a column.
    """
    def refused(paths) -> dict[tuple, dict[str, Any]]:
        return {("body", *path): {"type": "value_error", "loc": ("body", *path), "msg": "invalid_characters",
                                  "input": None, "ctx": {"error": ValueError("invalid_characters")}}
                for path in paths}

    if body_field is None:
        kept = document
    else:
        value, schema_errors = body_field.validate(document, loc=("body",))
        if schema_errors:
            # where the schema refused a string for its characters, say so in our words
            ours = refused(unstorable_strings(document))
            raise RequestValidationError([ours.get(tuple(error["loc"]), error) for error in schema_errors])
        kept = jsonable_encoder(value, by_alias=True)
    if errors := list(refused(unstorable_strings(kept)).values()):
        raise RequestValidationError(errors)


def check_query(request: Request) -> None:
    query = request.scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return  # percent-decoding (UTF-8, invalid bytes replaced) yields no other unstorable character
    errors = [{"type": "value_error", "loc": ("query", name), "msg": "invalid_characters", "input": None,
               "ctx": {"error": ValueError("invalid_characters")}}
              for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
              if not storable_text(name) or not storable_text(value)]
    if errors:
        raise RequestValidationError(errors)


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    if not content_type:
        return True  # FastAPI reads a body without a content type as JSON
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def strict(handler: Handler, body_field: Any) -> Handler:
    async def checked(request: Request) -> Response:
        if any(isinstance(value, str) and not storable_text(value) for value in request.path_params.values()):
            raise UnknownPathParameter()
        check_query(request)
        if body_field is not None and _is_json(request):
            body = await request.body()
            if body:
                # FastAPI's handler reads `request.json()`, which keeps what is set here
                request._json = parse_json_body(body, body_field)  # noqa: SLF001 - Starlette's cache of the body
        return await handler(request)

    return checked


class _StrictRoute(APIRoute):
    """Mixed in under a route's own class: the checks run inside any wrapping the route's class adds (a batch
    route keying its 422 by item index sees the characters' errors like the schema's)."""

    def get_route_handler(self) -> Handler:
        return strict(super().get_route_handler(), self.body_field)


_STRICT_CLASSES: dict[type, type] = {}


def _strict_class(route_class: type[APIRoute]) -> type[APIRoute]:
    if route_class is APIRoute:
        return _StrictRoute
    if route_class not in _STRICT_CLASSES:
        _STRICT_CLASSES[route_class] = type(f"Strict{route_class.__name__}", (route_class, _StrictRoute), {})
    return _STRICT_CLASSES[route_class]


def install_strict_requests(app: FastAPI) -> None:
    """Put every API route of `app` behind the rules (call once all routers are included).

    FastAPI builds each route's handler with `route.get_route_handler()`, its documented hook for a custom
    request handling (usually reached by subclassing `APIRoute`). Each route gets a class that adds the
    rules under its own (once; routers are shared by the apps of a test run), so no router of any service
    has to remember a `route_class`.
    """
    for route in api_routes(app.router.routes):
        if isinstance(route, _StrictRoute):
            continue
        route.__class__ = _strict_class(type(route))
        route.app = request_response(route.get_route_handler())  # a route added to the app itself
