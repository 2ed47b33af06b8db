"""The gateway's route table, generated from the services' own OpenAPI documents.

Each service's document lists the public paths it serves (`/api/v1/...`); the table gives every
path to the service that declares it, and refuses to exist when a concrete path would be served
by two services (the same template twice, or a literal segment of one service's path taken by a
parameter of another's: `/api/v1/plans/drafts` against `/api/v1/plans/{code}`). Nothing here is
written by hand: adding a route to a service adds it to the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PUBLIC_PREFIX = "/api/v1/"
_PARAMETER = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")
_LITERAL = re.compile(r"^[A-Za-z0-9_.-]+$")
# what a path parameter matches: one non-empty segment, as the services' own router reads it
_SEGMENT = "[^/]+"
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


class RouteConflict(ValueError):
    """Two services declare paths that one request could reach on both."""


class BadPath(ValueError):
    """A public path the gateway cannot route (a segment that is neither a literal nor a parameter)."""


@dataclass(frozen=True)
class PublicPath:
    service: str
    template: str  # as in the OpenAPI document: /api/v1/customers/{external_customer_id}
    methods: tuple[str, ...]
    # the largest body its operations accept (`x-invora-max-body-bytes`); None when none takes a body
    max_body_bytes: int | None = None

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))

    def pattern(self) -> str:
        """An RE2/Python regular expression for the path, without anchors."""
        parts = []
        for segment in self.segments:
            if _PARAMETER.match(segment):
                parts.append(_SEGMENT)
            elif _LITERAL.match(segment):
                parts.append(segment.replace(".", r"\."))
            else:
                raise BadPath(f"{self.service}: cannot route {self.template!r} (segment {segment!r})")
        return "/" + "/".join(parts)

    def example(self, value: str = "x0") -> str:
        """A concrete path this template serves (every parameter set to `value`)."""
        return "/" + "/".join(value if _PARAMETER.match(s) else s for s in self.segments)

    def matches(self, path: str) -> bool:
        return re.fullmatch(self.pattern() + "/?", path) is not None


@dataclass(frozen=True)
class RouteTable:
    services: tuple[str, ...]
    paths: tuple[PublicPath, ...]

    @classmethod
    def from_openapi(cls, documents: Mapping[str, Mapping[str, Any]]) -> RouteTable:
        """`documents`: service name → its OpenAPI document, in the order the services are listed."""
        paths = []
        for service, document in documents.items():
            for template, operations in sorted((document.get("paths") or {}).items()):
                if not template.startswith(PUBLIC_PREFIX):
                    continue  # /health, /ready, /metrics: each service's own, not routed
                methods = tuple(sorted(m.upper() for m in operations if m.lower() in _HTTP_METHODS))
                limits = [int(limit) for m, operation in operations.items()
                          if m.lower() in _HTTP_METHODS and isinstance(operation, Mapping)
                          and (limit := operation.get("x-invora-max-body-bytes")) is not None]
                paths.append(PublicPath(service=service, template=template, methods=methods,
                                        max_body_bytes=max(limits) if limits else None))
        table = cls(services=tuple(documents), paths=tuple(paths))
        table.check()
        return table

    def check(self) -> None:
        """Raise `RouteConflict` unless every concrete public path is owned by one service at most."""
        problems = []
        for index, path in enumerate(self.paths):
            path.pattern()  # raises BadPath for a segment it cannot route
            for other in self.paths[index + 1:]:
                if other.service != path.service and overlap(path, other):
                    problems.append(f"{path.service} {path.template} and {other.service} {other.template}")
        if problems:
            raise RouteConflict("one request could reach two services:\n  " + "\n  ".join(problems))

    def owners(self, path: str) -> list[str]:
        """Every service a concrete path is routed to (one, or none for an unknown path)."""
        return sorted({p.service for p in self.paths if p.matches(path)})

    def for_service(self, service: str) -> list[PublicPath]:
        return [p for p in self.paths if p.service == service]

    def service_pattern(self, service: str) -> str | None:
        """One anchored regular expression for all of a service's public paths (None if it has none).

        A trailing slash is let through, so the service itself answers it as it would directly.
        """
        return _anchored(self.for_service(service))

    def body_limit_patterns(self, service: str, default: int) -> list[tuple[int, str]]:
        """(limit in bytes, anchored pattern) for a service's paths grouped by their body limit,
        largest first (a path matched by two groups gets the larger; the service keeps its exact one).
        A path none of whose operations takes a body gets `default`."""
        groups: dict[int, list[PublicPath]] = {}
        for path in self.for_service(service):
            groups.setdefault(path.max_body_bytes or default, []).append(path)
        return [(limit, pattern) for limit in sorted(groups, reverse=True)
                if (pattern := _anchored(groups[limit])) is not None]


def _anchored(paths: Iterable[PublicPath]) -> str | None:
    patterns = sorted({p.pattern() for p in paths})
    if not patterns:
        return None
    prefix = PUBLIC_PREFIX.rstrip("/")
    alternatives = "|".join(p.removeprefix(prefix) for p in patterns)
    return f"^{re.escape(prefix)}(?:{alternatives})/?$"


def overlap(a: PublicPath, b: PublicPath) -> bool:
    """Whether one concrete path matches both: same depth, and at each segment equal literals or a
    parameter on either side."""
    if len(a.segments) != len(b.segments):
        return False
    pairs = zip(a.segments, b.segments, strict=True)
    return all(x == y or _PARAMETER.match(x) or _PARAMETER.match(y) for x, y in pairs)


def table_from_apps(services: Iterable[str]) -> RouteTable:
    """The route table of the installed services, from the OpenAPI document each one builds."""
    import importlib

    documents = {}
    for service in services:
        app = importlib.import_module(f"{service}.app").create_app()
        documents[service] = app.openapi()
    return RouteTable.from_openapi(documents)


def table_from_urls(urls: Mapping[str, str], timeout: float = 10.0) -> RouteTable:
    """The route table of running services, from the `/openapi.json` each one serves."""
    import httpx

    documents = {}
    with httpx.Client(timeout=timeout) as client:
        for service, url in urls.items():
            answer = client.get(f"{url.rstrip('/')}/openapi.json")
            answer.raise_for_status()
            documents[service] = answer.json()
    return RouteTable.from_openapi(documents)
