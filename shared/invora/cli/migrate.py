"""`invora migrate`: bring service databases to a revision, creating them when missing."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from invora.cli.dev_files import DATA_DIR_ENV, DevFiles
from invora.cli.infrastructure import service_database_urls
from invora.cli.secrets import configure_for_migrations
from invora.db.migrate import SERVICES, connection_options, upgrade
from invora.infra.postgres import ensure_databases


@dataclass(frozen=True)
class MigrationTarget:
    service: str
    database_url: str
    admin_dsn: str  # where CREATE DATABASE runs
    source: str  # which setting the URL came from, for the report


def _server_admin_dsn(database_url: str) -> str:
    url = make_url(database_url)
    return url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def resolve_target(service: str, files: DevFiles) -> MigrationTarget:
    own = f"INVORA_{service.upper()}_DATABASE_URL"
    if os.environ.get(own):
        url = os.environ[own]
        return MigrationTarget(service, url, _server_admin_dsn(url), own)
    for admin_dsn, source in (
        (os.environ.get("DATABASE_URL"), "DATABASE_URL"),
        (files.read_dev_json().get("database_url"), str(files.dev_json)),
    ):
        if admin_dsn:
            return MigrationTarget(service, service_database_urls(admin_dsn, (service,))[service], admin_dsn, source)
    raise typer.BadParameter(
        f"no database for {service}: set {own} or DATABASE_URL, or start `invora dev`",
        param_hint="SERVICE",
    )


def migrate_command(
    service: Annotated[
        str | None, typer.Argument(help=f"One of {', '.join(SERVICES)} (default: all of them).", show_default=False)
    ] = None,
    revision: Annotated[str, typer.Option("--revision", help="Alembic revision to upgrade to.")] = "head",
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar=DATA_DIR_ENV, help="`invora dev` data directory (default: ./.invora)."),
    ] = None,
) -> None:
    """Upgrade service databases, creating them when missing.

    Database: INVORA_<SERVICE>_DATABASE_URL, else invora_<service> on DATABASE_URL's server,
    else on the PostgreSQL of the running `invora dev`.
    """
    if service is not None and service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}",
                                 param_hint="SERVICE")
    files = DevFiles.at(data_dir)
    configure_for_migrations(files)
    targets = [resolve_target(s, files) for s in ((service,) if service else SERVICES)]
    for target in targets:
        database = make_url(target.database_url).database
        assert database is not None
        # CREATE DATABASE over the same TLS as the service's own connections
        admin_dsn = connection_options(target.service).dsn(target.admin_dsn)
        asyncio.run(ensure_databases(admin_dsn, [database]))
        upgrade(target.service, target.database_url, revision)
        typer.echo(f"{target.service}: {database} at {revision} (from {target.source})", err=True)
