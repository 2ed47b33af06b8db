"""`invora dev` command-line options; the work happens in `supervisor`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from invora.cli.dev_files import DATA_DIR_ENV, DataDirInUse, default_data_dir
from invora.cli.supervisor import DevOptions, run_dev
from invora.db.migrate import SERVICES

DEFAULT_PG_PORT = 15432
DEFAULT_KAFKA_PORT = 19092
DEFAULT_BASE_PORT = 8101
DEFAULT_STRIPE_PORT = 12111


def dev_command(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar=DATA_DIR_ENV, help="Where data, keys and logs live (default: ./.invora)."),
    ] = None,
    pg_port: Annotated[
        int, typer.Option("--pg-port", help="Port of the embedded PostgreSQL (ignored with DATABASE_URL).")
    ] = DEFAULT_PG_PORT,
    kafka_port: Annotated[
        int, typer.Option("--kafka-port", help="Port of the embedded Kafka (ignored with KAFKA_BOOTSTRAP_SERVERS).")
    ] = DEFAULT_KAFKA_PORT,
    base_port: Annotated[
        int, typer.Option("--base-port", help="Port of the first service; the others follow in order.")
    ] = DEFAULT_BASE_PORT,
    gateway_port: Annotated[
        int | None,
        typer.Option("--gateway-port", help="Port of the gateway, the one API origin (default: --base-port - 1)."),
    ] = None,
    stripe_port: Annotated[
        int, typer.Option("--stripe-port", help="Port of localstripe, the Stripe fake payments charges on (ignored "
                                                "with INVORA_PAYMENTS_STRIPE_API_BASE).")
    ] = DEFAULT_STRIPE_PORT,
    stripe_fake: Annotated[
        bool, typer.Option("--stripe-fake/--no-stripe-fake", help="Start localstripe and point payments at it.")
    ] = True,
    services: Annotated[
        bool, typer.Option("--services/--no-services", help="Start the six services, or only the infrastructure.")
    ] = True,
    migrate: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Run every service's migrations at start-up.")
    ] = True,
    ready_timeout: Annotated[
        float, typer.Option("--ready-timeout", help="Seconds to wait for every /ready to answer 200.")
    ] = 60.0,
) -> None:
    """Run PostgreSQL, Kafka, the six services and the gateway (one API origin) locally until Ctrl-C."""
    service_range = range(base_port, base_port + len(SERVICES))
    if service_range.stop - 1 > 65535 or base_port < 1:
        raise typer.BadParameter(f"services would need ports {service_range.start}-{service_range.stop - 1}",
                                 param_hint="--base-port")
    gateway = gateway_port or base_port - 1
    if not 1 <= gateway <= 65535 or gateway in service_range:
        raise typer.BadParameter(f"the gateway cannot use port {gateway}", param_hint="--gateway-port")
    checked = [("--pg-port", pg_port), ("--kafka-port", kafka_port)] + ([("--stripe-port", stripe_port)]
                                                                        if stripe_fake else [])
    for option, port in checked:
        if port in service_range:
            raise typer.BadParameter(f"{port} is one of the service ports (--base-port {base_port} + 0..5)",
                                     param_hint=option)
        if services and port == gateway:
            raise typer.BadParameter(f"{port} is the gateway's port", param_hint=option)
    options = DevOptions(
        data_dir=data_dir or default_data_dir(), pg_port=pg_port, kafka_port=kafka_port, base_port=base_port,
        gateway_port=gateway, stripe_port=stripe_port if stripe_fake else None, start_services=services,
        migrate=migrate, ready_timeout=ready_timeout,
    )
    try:
        code = run_dev(options)
    except DataDirInUse as error:
        typer.echo(f"invora dev: {error}", err=True)
        code = 1
    raise typer.Exit(code)
