"""The gateway configuration for containers (docker compose, Kubernetes): every service reached by
its name on its port, the gateway listening on 8100 on every interface."""

from __future__ import annotations

from typing import Any

from invora.db.migrate import SERVICES
from invora.gateway.caddy import caddy_config, render
from invora.gateway.routes import RouteTable, table_from_apps

GATEWAY_PORT = 8100
FIRST_SERVICE_PORT = 8101


def service_ports() -> dict[str, int]:
    return {service: FIRST_SERVICE_PORT + index for index, service in enumerate(SERVICES)}


def container_gateway_config(table: RouteTable | None = None) -> dict[str, Any]:
    table = table or table_from_apps(SERVICES)
    upstreams = {service: f"{service}:{port}" for service, port in service_ports().items()}
    return caddy_config(table, upstreams, f":{GATEWAY_PORT}")


def container_gateway_json(table: RouteTable | None = None) -> str:
    return render(container_gateway_config(table))
