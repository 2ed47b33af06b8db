"""The gateway of `invora dev`: Caddy on one port in front of the six services, configured from
the OpenAPI documents the running services serve. Supervised like a service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from invora.cli.service_process import ServiceProcess
from invora.gateway.binary import caddy_command
from invora.gateway.caddy import caddy_config
from invora.gateway.process import caddy_environment, write_config
from invora.gateway.routes import table_from_urls


@dataclass
class GatewayProcess(ServiceProcess):
    config_file: Path = Path("caddy.json")

    def command(self) -> list[str]:
        return caddy_command(self.config_file)

    def is_ready(self, client: httpx.Client) -> bool:
        try:
            return client.get(f"{self.url}/health").status_code == 200
        except httpx.HTTPError:
            return False


def gateway_process(services: list[ServiceProcess], port: int, directory: Path, log_file: Path) -> GatewayProcess:
    """Writes the configuration (routes from each service's /openapi.json) and returns the process,
    not started. Raises `RouteConflict` when two services declare the same public path."""
    table = table_from_urls({s.name: s.url for s in services})
    upstreams = {s.name: f"{s.host}:{s.port}" for s in services}
    config_file = write_config(caddy_config(table, upstreams, f"127.0.0.1:{port}"), directory / "caddy.json")
    return GatewayProcess(name="gateway", port=port, env=caddy_environment(directory), log_file=log_file,
                          config_file=config_file)
