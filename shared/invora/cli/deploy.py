"""`invora deploy render`: writes the generated deployment files (gateway configuration, Kubernetes
manifests) from the code; `--check` only reports the ones that are out of date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from invora.deploy.files import stale_files, write_files

deploy_app = typer.Typer(help="Generated deployment files.", no_args_is_help=True)


@deploy_app.command("render")
def render_command(
    root: Annotated[Path, typer.Option("--root", help="Repository root.")] = Path("."),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if a file is out of date.")] = False,
) -> None:
    """Write deploy/gateway/caddy.json and deploy/kubernetes/ from the services' routes and the code."""
    if check:
        stale = stale_files(root)
        for path in stale:
            typer.echo(f"out of date: {path}")
        raise typer.Exit(1 if stale else 0)
    for path in write_files(root):
        typer.echo(f"wrote {path}")
