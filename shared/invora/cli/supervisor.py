"""`invora dev`: PostgreSQL, Kafka, the six services and the gateway on one machine, stopped together.

Start-up order: infrastructure, databases and migrations, key pair, services, readiness, the
gateway (its routes read from the running services' OpenAPI documents), then dev.json.
Shutdown runs in reverse and only touches what this run started. Once up, whatever this run
started and then dies is restarted with back-off (`_watch`).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

from invora.auth.keys import ensure_key_pair, sign_token
from invora.cli import leftovers
from invora.cli.dev_files import DevFiles
from invora.cli.gateway import gateway_process
from invora.cli.infrastructure import Infrastructure, PortInUse, require_free_port
from invora.cli.restarts import RestartBackoff
from invora.cli.secrets import configure_for_migrations, ensure_dev_key_file
from invora.cli.service_process import ServiceProcess, stop_all
from invora.cli.shutdown import ShutdownRequested, ShutdownSignals
from invora.db.migrate import SERVICES
from invora.gateway.routes import RouteConflict

console = Console(stderr=True, highlight=False, soft_wrap=True)
stdout = Console(highlight=False, soft_wrap=True)


class StartupFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class DevOptions:
    data_dir: Path
    pg_port: int
    kafka_port: int
    base_port: int
    gateway_port: int | None = None  # default: the port before --base-port
    stripe_port: int | None = None  # localstripe's port; None: no Stripe fake
    start_services: bool = True
    migrate: bool = True
    ready_timeout: float = 60.0
    stop_grace: float = 10.0


def report(message: str) -> None:
    console.print(Text.assemble(("invora dev ", "dim"), message))


def service_ports(base_port: int) -> dict[str, int]:
    return {service: base_port + offset for offset, service in enumerate(SERVICES)}


def service_env(service: str, port: int, database_url: str, infra: Infrastructure, private_key: Path,
                public_key: Path, ports: dict[str, int], secrets_keys: Path | None = None,
                api_url: str | None = None) -> dict[str, str]:
    prefix = f"INVORA_{service.upper()}_"
    # the public base URL of the API (the gateway) is the issuer of `jwt` webhook signatures
    public = {f"{prefix}WEBHOOK_JWT_ISSUER": api_url} if api_url and service == "notifications" else {}
    if api_url:  # documents' public links (`file_url`) point at the gateway
        public["INVORA_PUBLIC_URL"] = api_url
    # payments charges on the Stripe fake this run started (or the base URL the environment gave)
    if service == "payments" and infra.stripe_api_base:
        public[f"{prefix}STRIPE_API_BASE"] = infra.stripe_api_base
    return {
        **public,
        # how services reach each other locally, unless the environment says otherwise: the catalog's
        # address, and the key that signs the short-lived `service` keys they call each other with
        f"{prefix}CATALOG_URL": f"http://127.0.0.1:{ports.get('catalog', 8101)}",
        f"{prefix}SUBSCRIPTIONS_URL": f"http://127.0.0.1:{ports.get('subscriptions', 8102)}",
        f"{prefix}WALLETS_URL": f"http://127.0.0.1:{ports.get('wallets', 8105)}",
        f"{prefix}SERVICE_SIGNING_KEY": str(private_key),
        # the key ring for secrets at rest, generated once and kept with the data it encrypts
        **({"INVORA_SECRETS_KEY": str(secrets_keys)} if secrets_keys else {}),
        **os.environ,
        f"{prefix}DATABASE_URL": database_url,
        f"{prefix}PORT": str(port),
        "INVORA_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "INVORA_AUTH_PUBLIC_KEYS": str(public_key),
        # notifications accepts loopback webhook targets (local receivers) only in dev mode
        "INVORA_DEV_MODE": "true",
        "PYTHONUNBUFFERED": "1",
    }


def run_dev(options: DevOptions) -> int:
    """Returns the process exit code: 0 after a requested shutdown, 1 on failure."""
    files = DevFiles.at(options.data_dir)
    files.create_dirs()
    with files.exclusive_lock():
        signals = ShutdownSignals()
        signals.install()
        try:
            return _supervise(files, options, signals)
        finally:
            signals.restore()


def _supervise(files: DevFiles, options: DevOptions, signals: ShutdownSignals) -> int:
    for name in leftovers.kill_recorded(files.run_dir):
        report(f"stopped a leftover {name} process from an earlier run")
    organization_id = files.organization_id()
    files.remove_dev_json()
    infra = Infrastructure(files, report)
    services: list[ServiceProcess] = []
    started_at = time.monotonic()
    with ExitStack() as cleanup:
        cleanup.callback(files.remove_dev_json)
        cleanup.callback(infra.stop)
        cleanup.callback(lambda: _stop_services(services, files, options.stop_grace))
        cleanup.callback(signals.begin_cleanup)
        try:
            ports = service_ports(options.base_port) if options.start_services else {}
            gateway_port = options.gateway_port or options.base_port - 1
            for service, port in ports.items():
                require_free_port(port, service)
            if ports:
                require_free_port(gateway_port, "gateway")
            infra.start_postgres(options.pg_port)
            signals.check()
            infra.start_kafka(options.kafka_port)
            signals.check()
            if options.stripe_port is not None and ports:
                infra.start_stripe_fake(options.stripe_port)
            secrets_keys = ensure_dev_key_file(files)
            configure_for_migrations(files)  # a migration encrypts secrets older versions stored in clear
            database_urls = infra.prepare_databases(SERVICES, options.migrate)
            signals.check()
            private_key, public_key = ensure_key_pair(files.keys_dir)
            for service, port in ports.items():
                env = service_env(service, port, database_urls[service], infra, private_key, public_key, ports,
                                  secrets_keys, api_url=f"http://127.0.0.1:{gateway_port}")
                services.append(ServiceProcess(name=service, port=port, env=env, log_file=files.log_file(service)))
                _start_service(services[-1], files)
            _wait_until_ready(services, options.ready_timeout, signals)
            if services:
                _start_gateway(services, files, gateway_port)
                _wait_until_ready(services[-1:], options.ready_timeout, signals)
            api_key = sign_token(
                private_key.read_bytes(), organization_id=organization_id, roles=["admin"], subject="dev:admin"
            )
            summary = {
                "api_url": services[-1].url if services else None,
                "api_key": api_key,
                "organization_id": str(organization_id),
                "kafka": infra.kafka_bootstrap_servers,
                "stripe_api_base": infra.stripe_api_base or None,
                "services": {s.name: s.url for s in services if s.name != "gateway"},
                "database_url": infra.admin_dsn,
            }
            files.write_dev_json(summary)
            _print_summary(summary, files, time.monotonic() - started_at)
            _watch(services, infra, files, signals)
        except ShutdownRequested as stop:
            report(f"{stop.signal_name}: stopping")
            return 0
        except (StartupFailed, PortInUse, RouteConflict) as failure:
            console.print(f"invora dev: {failure}", style="red", markup=False)
            return 1
    return 0


def _start_service(service: ServiceProcess, files: DevFiles) -> None:
    service.start()
    assert service.pid is not None
    leftovers.record(files.run_dir, service.name, service.pid)


def _start_gateway(services: list[ServiceProcess], files: DevFiles, port: int) -> None:
    """Caddy on one port in front of the services, appended to `services`: supervised, stopped and
    reported like them."""
    gateway = gateway_process(services, port, files.root / "gateway", files.log_file("gateway"))
    services.append(gateway)
    _start_service(gateway, files)


def _wait_until_ready(services: list[ServiceProcess], timeout: float, signals: ShutdownSignals) -> None:
    pending = {s.name: s for s in services}
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while pending:
            signals.check()
            for name, service in list(pending.items()):
                code = service.exit_code()
                if code is not None:
                    _print_log_tail(service)
                    raise StartupFailed(f"{name} exited with code {code} during start-up (log: {service.log_file})")
                if service.is_ready(client):
                    report(f"{name} ready at {service.url}")
                    del pending[name]
            if pending and time.monotonic() > deadline:
                for service in pending.values():
                    _print_log_tail(service)
                raise StartupFailed(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")
            if pending:
                time.sleep(0.2)


def _watch(services: list[ServiceProcess], infra: Infrastructure, files: DevFiles, signals: ShutdownSignals) -> None:
    """Keep everything this run started running: whatever dies (PostgreSQL, the broker, a service, the
    gateway) is restarted with back-off (`invora.cli.restarts`) and the restart is reported. The
    services reconnect by themselves (database pool, Kafka clients), and after a broker restart they
    republish what their outboxes hold (`invora.bus.connection`)."""
    now = time.monotonic()
    backoffs = {name: RestartBackoff(started_at=now) for name in [*infra.supervised(), *(s.name for s in services)]}
    while True:
        signals.check()
        # infrastructure first: the services need it
        for name in infra.supervised():
            _supervise_part(name, backoffs[name], alive=lambda n=name: infra.running(n),
                            restart=lambda n=name: infra.restart(n), log_hint=_infra_log(name, files))
        for service in services:
            _supervise_part(service.name, backoffs[service.name], alive=lambda s=service: s.exit_code() is None,
                            restart=lambda s=service: _restart_service(s, files), log_hint=str(service.log_file),
                            exit_code=service.exit_code)
        time.sleep(0.3)


def _supervise_part(name: str, backoff: RestartBackoff, *, alive: Callable[[], bool], restart: Callable[[], None],
                    log_hint: str, exit_code: Callable[[], int | None] | None = None) -> None:
    now = time.monotonic()
    if not backoff.pending:
        if alive():
            return
        delay = backoff.died(now)
        code = exit_code() if exit_code else None
        how = f"exited with code {code}" if code is not None else "is not running"
        report(f"{name} {how}; restarting in {delay:.1f}s (restart {backoff.restarts}, log: {log_hint})")
        return
    if not backoff.due(now):
        return
    try:
        restart()
    except Exception as exc:  # noqa: BLE001 - e.g. the port is still held: try again later
        delay = backoff.failed_to_start(time.monotonic())
        report(f"{name} could not start ({exc}); next try in {delay:.1f}s")
        return
    backoff.started(time.monotonic())
    report(f"{name} restarted")


def _restart_service(service: ServiceProcess, files: DevFiles) -> None:
    service.signal_group(signal.SIGKILL)  # anything the dead process left in its group
    service.start(append_log=True)
    assert service.pid is not None
    leftovers.record(files.run_dir, service.name, service.pid)


def _infra_log(name: str, files: DevFiles) -> str:
    return str(files.postgres_dir / "server.log") if name == "postgres" else str(files.log_file(name))


def _stop_services(services: list[ServiceProcess], files: DevFiles, grace: float) -> None:
    if services:
        report("stopping services")
    stop_all(services, grace)
    for service in services:
        leftovers.forget(files.run_dir, service.name)


def _print_log_tail(service: ServiceProcess) -> None:
    console.print(f"--- last lines of {service.log_file} ---", style="yellow", markup=False)
    console.print(service.log_tail(), markup=False)


def _print_summary(summary: dict, files: DevFiles, elapsed: float) -> None:
    table = Table(title=f"Invora dev suite, ready in {elapsed:.1f}s", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    if summary.get("api_url"):
        table.add_row("API (one origin)", summary["api_url"])
    for name, url in summary["services"].items():
        table.add_row(name, url)
    table.add_row("kafka", summary["kafka"])
    if summary.get("stripe_api_base"):
        table.add_row("stripe (payments)", summary["stripe_api_base"])
    table.add_row("database", summary["database_url"])
    table.add_row("organization_id", summary["organization_id"])
    stdout.print(table)
    # on a line of its own, unwrapped, so it can be copied
    stdout.print("admin API key:")
    stdout.print(summary["api_key"], soft_wrap=True)
    if summary.get("api_url"):
        stdout.print(f"Lago clients: Client(api_key=..., api_url=\"{summary['api_url']}/\")")
    stdout.print(f"Details in {files.dev_json}, logs in {files.logs_dir}. Ctrl-C stops everything.")
