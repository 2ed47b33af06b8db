"""The Caddy configuration (JSON) of the gateway, rendered from the route table.

One server on one port:

- `/api/v1/...`: one route per service, matching exactly the paths its OpenAPI document declares,
  proxied to that service. Headers pass through untouched (`Authorization`, `Idempotency-Key`,
  `X-Request-ID`, `X-Correlation-ID`; Caddy adds `X-Forwarded-*`), request bodies stream to the
  service as they arrive (no `request_buffers`), responses stream back.
- request bodies are limited as each service limits them (`x-invora-max-body-bytes` of the
  operations, else the services' default): a larger body is cut off as it streams and answered 413
  with Lago's error body, so an oversized body never crosses the hop whole.
- a path no service declares: 404 with Lago's error body, from the gateway.
- a service that does not answer (nothing listening, dial timeout, no response headers in time):
  503 with Lago's error body and `Retry-After`, at once: a refused connection fails immediately and
  a dial gives up after `dial_timeout`.
- `/health`: the gateway's own liveness, with every service's `/health` answer (or
  `{"status": "unavailable"}`) gathered by sub-requests, and `"status": "degraded"` when one is down.
  It answers 200 as long as the gateway runs, so a liveness probe never restarts the gateway for a
  service's outage.

The upstream connection pool forgets idle connections before uvicorn closes them (5 s keep-alive),
so a request is never sent on a connection the service is closing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from invora.errors import PayloadTooLarge
from invora.gateway.routes import RouteTable
from invora.web.body_limit import DEFAULT_MAX_BODY_BYTES

NOT_FOUND = {"status": 404, "error": "Not Found", "code": "not_found"}
SERVICE_UNAVAILABLE = {"status": 503, "error": "Service Unavailable", "code": "service_unavailable"}
PAYLOAD_TOO_LARGE = PayloadTooLarge().body()
HEALTH_PATH = "/health"
# sub-requests of /health; reachable from outside too, harmlessly (a service's /health)
SERVICE_HEALTH_PREFIX = "/_gateway/health/"
DIAL_TIMEOUT = "2s"
# a service that accepted the connection but sends nothing (stopped, deadlocked) is given up on
API_RESPONSE_TIMEOUT = "30s"
HEALTH_TIMEOUT = "2s"
# below uvicorn's default --timeout-keep-alive of 5 s
UPSTREAM_IDLE_TIMEOUT = "4s"
SHUTDOWN_GRACE = "5s"
JSON_HEADERS = {"Content-Type": ["application/json; charset=utf-8"]}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _transport(response_header_timeout: str | None = None) -> dict[str, Any]:
    transport: dict[str, Any] = {
        "protocol": "http",
        "dial_timeout": DIAL_TIMEOUT,
        "keep_alive": {"enabled": True, "idle_timeout": UPSTREAM_IDLE_TIMEOUT, "max_idle_conns_per_host": 64},
    }
    if response_header_timeout:
        transport["response_header_timeout"] = response_header_timeout
    return transport


def _proxy(upstream: str, **transport: str | None) -> dict[str, Any]:
    return {"handler": "reverse_proxy", "upstreams": [{"dial": upstream}], "transport": _transport(**transport)}


def _respond(body: Mapping[str, Any] | str, status: int, extra_headers: Mapping[str, list[str]] | None = None) -> dict:
    return {
        "handler": "static_response",
        "status_code": status,
        "headers": {**JSON_HEADERS, **(extra_headers or {})},
        "body": body if isinstance(body, str) else _json(body),
    }


def health_template(services: tuple[str, ...]) -> str:
    """The body of the gateway's /health, a Caddy template (delimiters `[[ ]]`): each service's
    answer fetched by a sub-request, overall `degraded` if any is not `ok`."""
    fetch = "".join(f'[[- $s{i} := httpInclude "{SERVICE_HEALTH_PREFIX}{name}" -]]'
                    for i, name in enumerate(services))
    all_ok = " ".join(f'(contains "\\"ok\\"" $s{i})' for i in range(len(services)))
    condition = f"(and {all_ok})" if len(services) > 1 else all_ok
    entries = ",".join(f'"{name}":[[ $s{i} ]]' for i, name in enumerate(services))
    return (f'{fetch}{{"status":"[[ if {condition} ]]ok[[ else ]]degraded[[ end ]]","service":"gateway",'
            f'"services":{{{entries}}}}}')


def caddy_config(table: RouteTable, upstreams: Mapping[str, str], listen: str,
                 response_timeout: str = API_RESPONSE_TIMEOUT) -> dict[str, Any]:
    """`upstreams`: service → `host:port` it is reached at; `listen`: `host:port` or `:port`;
    `response_timeout`: how long a service may take to send its response headers (a Caddy duration)."""
    missing = [s for s in table.services if s not in upstreams]
    if missing:
        raise ValueError(f"no upstream address for {', '.join(missing)}")
    routes: list[dict[str, Any]] = [
        {
            "match": [{"path": [HEALTH_PATH]}],
            "handle": [
                {"handler": "templates", "mime_types": ["application/json"], "delimiters": ["[[", "]]"]},
                _respond(health_template(table.services), 200),
            ],
            "terminal": True,
        }
    ]
    for service in table.services:
        routes.append({
            "match": [{"path": [f"{SERVICE_HEALTH_PREFIX}{service}"]}],
            "handle": [
                {"handler": "rewrite", "uri": "/health"},
                _proxy(upstreams[service], response_header_timeout=HEALTH_TIMEOUT),
            ],
            "terminal": True,
        })
    for service in table.services:
        # one route per body limit of the service's paths (a service with no public path has none)
        for index, (limit, pattern) in enumerate(table.body_limit_patterns(service, DEFAULT_MAX_BODY_BYTES)):
            routes.append({
                "match": [{"path_regexp": {"name": f"{service}{index}", "pattern": pattern}}],
                "handle": [{"handler": "request_body", "max_size": limit},
                           _proxy(upstreams[service], response_header_timeout=response_timeout)],
                "terminal": True,
            })
    routes.append({"handle": [_respond(NOT_FOUND, 404)], "terminal": True})

    error_routes = [
        {
            # a service's health sub-request failed: report it, keep /health itself answering
            "match": [{"path": [f"{SERVICE_HEALTH_PREFIX}*"]}],
            "handle": [_respond({"status": "unavailable"}, 200)],
            "terminal": True,
        },
        {
            # a body over its route's limit (the request_body handler's reader gave up)
            "match": [{"expression": "{http.error.status_code} == 413"}],
            "handle": [_respond(PAYLOAD_TOO_LARGE, 413)],
            "terminal": True,
        },
        {"handle": [_respond(SERVICE_UNAVAILABLE, 503, {"Retry-After": ["1"]})], "terminal": True},
    ]
    return {
        "admin": {"disabled": True, "config": {"persist": False}},
        "logging": {"logs": {"default": {"level": "WARN"}}},
        "apps": {
            "http": {
                "grace_period": SHUTDOWN_GRACE,
                "servers": {
                    "invora": {
                        "listen": [listen],
                        "automatic_https": {"disable": True},
                        "protocols": ["h1"],
                        "routes": routes,
                        "errors": {"routes": error_routes},
                    }
                },
            }
        },
    }


def render(config: Mapping[str, Any]) -> str:
    """The JSON text written to files: stable and readable, so generated files diff well."""
    return json.dumps(config, indent=2) + "\n"
