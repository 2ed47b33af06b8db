"""`invora secrets`: keys for secrets at rest, and re-encryption of what is stored under a new key.

The key ring comes from `INVORA_SECRETS_KEY` (entries or a file), else from the `invora dev` data
directory (`.invora/secrets.keys`). Rotating:

1. `invora secrets add-key` (dev: puts a new key first in `.invora/secrets.keys`; elsewhere put the
   printed `invora secrets generate-key` entry first in `INVORA_SECRETS_KEY`, keeping the old ones)
   and restart the services, so every one of them writes with the new key and still reads the old;
2. `invora secrets rotate`: re-encrypts every stored secret under the new key (online, resumable);
3. once it reports nothing left, drop the old keys (`--drop-old-keys` does it in the dev file).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from invora import secrets
from invora.cli.dev_files import DATA_DIR_ENV, DevFiles
from invora.db.migrate import SERVICES, connection_options
from invora.secrets import KeyRing, SecretsError, generate_key_entry
from invora.secrets.rotation import rotate_database

SECRETS_KEY_ENV = "INVORA_SECRETS_KEY"

secrets_app = typer.Typer(help="Keys for secrets at rest; re-encrypt stored secrets under a new key.",
                          no_args_is_help=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar=DATA_DIR_ENV, help="`invora dev` data directory (default: ./.invora)."),
]


def ensure_dev_key_file(files: DevFiles) -> Path:
    """The dev key ring file, created with one key on first use (owner-only)."""
    path = files.secrets_keys
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(generate_key_entry() + "\n")
        partial.chmod(0o600)
        partial.replace(path)
    return path


def configure_for_migrations(files: DevFiles) -> None:
    """Migrations that encrypt stored secrets need the ring: from INVORA_SECRETS_KEY (the migration reads
    it from the service's settings), else from the dev key file when there is one."""
    if not os.environ.get(SECRETS_KEY_ENV) and files.secrets_keys.is_file():
        secrets.configure(KeyRing.parse(str(files.secrets_keys)))


def _keyring(data_dir: Path | None) -> tuple[KeyRing, Path | None]:
    """The ring, and the dev file it came from (None when from the environment)."""
    value = os.environ.get(SECRETS_KEY_ENV)
    source: Path | None = None
    if not value:
        source = DevFiles.at(data_dir).secrets_keys
        if not source.is_file():
            raise typer.BadParameter(f"{SECRETS_KEY_ENV} is not set and there is no {source}; run `invora dev` "
                                     "once or set it", param_hint=SECRETS_KEY_ENV)
        value = str(source)
    elif Path(value).expanduser().is_file():
        source = Path(value).expanduser()
    try:
        return KeyRing.parse(value), source
    except SecretsError as error:
        raise typer.BadParameter(str(error), param_hint=SECRETS_KEY_ENV) from None


@secrets_app.command("generate-key")
def generate_key(
    key_id: Annotated[str | None, typer.Option("--id", help="Key id (default: k<UTC time><random>).")] = None,
) -> None:
    """Print a new key entry (`<id>:<base64>`) for INVORA_SECRETS_KEY, alone on stdout."""
    try:
        typer.echo(generate_key_entry(key_id))
    except SecretsError as error:
        raise typer.BadParameter(str(error), param_hint="--id") from None


@secrets_app.command("add-key")
def add_key(data_dir: DataDirOption = None) -> None:
    """Put a new key first in the `invora dev` key file (the old ones stay readable); restart `invora dev` next."""
    files = DevFiles.at(data_dir)
    path = ensure_dev_key_file(files)
    entries = _entries(path)
    entry = generate_key_entry()
    _write_key_file(path, [entry, *entries])
    typer.echo(f"new key {entry.split(':', 1)[0]} first in {path}; restart `invora dev`, then run "
               "`invora secrets rotate`", err=True)


@secrets_app.command("rotate")
def rotate(
    service: Annotated[
        str | None, typer.Argument(help=f"One of {', '.join(SERVICES)} (default: all of them).", show_default=False)
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows re-encrypted per transaction.")] = 200,
    drop_old_keys: Annotated[
        bool, typer.Option("--drop-old-keys", help="After a complete run, keep only the current key in the dev "
                                                   "key file (every service must have been restarted with it).")
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Re-encrypt every stored secret under the current (first) key. Online, idempotent, resumable.

    Database: as `invora migrate` finds it (INVORA_<SERVICE>_DATABASE_URL, DATABASE_URL, or the
    running `invora dev`). Exit code 1 if some values are still under an old key afterwards (a
    service still running with the old key first wrote them: restart it and run again).
    """
    if service is not None and service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}",
                                 param_hint="SERVICE")
    from invora.cli.migrate import resolve_target  # migrate imports this module

    ring, source = _keyring(data_dir)
    files = DevFiles.at(data_dir)
    remaining = 0
    for name in (service,) if service else SERVICES:
        target = resolve_target(name, files)
        dsn = connection_options(name).dsn(target.database_url)  # the service's TLS settings
        try:
            report = asyncio.run(rotate_database(dsn, ring, batch_size=batch_size))
        except SecretsError as error:  # e.g. a value under a key no longer in the ring
            typer.echo(f"{name}: {error}", err=True)
            raise typer.Exit(1) from None
        remaining += report.remaining
        columns = ", ".join(f"{c.table}.{c.column}" for c in report.columns) or "no encrypted columns"
        typer.echo(f"{name}: {report.rewritten} re-encrypted under {ring.current_id}, {report.remaining} left "
                   f"({columns})", err=True)
    if remaining:
        typer.echo(f"{remaining} secrets are still under an old key; keep the old keys and run again", err=True)
        raise typer.Exit(1)
    if drop_old_keys:
        if source is None:
            typer.echo(f"--drop-old-keys: the keys come from {SECRETS_KEY_ENV}; remove the old entries there",
                       err=True)
        elif len(ring.keys) > 1:
            _write_key_file(source, [ring.keys[0][0] + ":" + _entry_key(source, ring.current_id)])
            typer.echo(f"old keys removed from {source}", err=True)


def _entries(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _entry_key(path: Path, key_id: str) -> str:
    return next(e for e in _entries(path) if e.split(":", 1)[0] == key_id).split(":", 1)[1]


def _write_key_file(path: Path, entries: list[str]) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text("\n".join(entries) + "\n")
    partial.chmod(0o600)
    partial.replace(path)
