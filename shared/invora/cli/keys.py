"""`invora keys`: mint API keys (signed JWTs) and show the public key services verify them with."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer

from invora.auth.keys import ROLES, public_key_pem, sign_token
from invora.cli.dev_files import DATA_DIR_ENV, DevFiles
from invora.cli.expiry import parse_expiry

PRIVATE_KEY_ENV = "INVORA_AUTH_PRIVATE_KEY"

keys_app = typer.Typer(help="Mint API keys and show the public key.", no_args_is_help=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar=DATA_DIR_ENV, help="`invora dev` data directory (default: ./.invora)."),
]
PrivateKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--private-key", envvar=PRIVATE_KEY_ENV,
        help="PEM private key to sign with (default: <data-dir>/keys/private.pem, the pair `invora dev` uses).",
    ),
]


def _private_key_path(private_key: Path | None, data_dir: Path | None) -> Path:
    path = private_key or DevFiles.at(data_dir).private_key
    if not path.is_file():
        raise typer.BadParameter(
            f"no private key at {path}; run `invora dev` once or pass --private-key", param_hint="--private-key"
        )
    return path


@keys_app.command("create")
def create_key(
    role: Annotated[
        list[str], typer.Option("--role", help=f"Role to grant; repeatable. One of: {', '.join(ROLES)}.")
    ],
    org: Annotated[
        str | None,
        typer.Option("--org", help="Organization id (UUID) (default: the `invora dev` organization)."),
    ] = None,
    customer_id: Annotated[
        str | None, typer.Option("--customer-id", help="lago_id of the customer a tenant key is limited to "
                                                      "(GET /api/v1/customers/{external_id} shows it).")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="30d, 12h, 15m, 2w or an ISO-8601 date-time (default: never).")
    ] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="`sub` claim: who the key is for.")] = None,
    private_key: PrivateKeyOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print a new API key (alone, on stdout)."""
    unknown = [r for r in role if r not in ROLES]
    if unknown:
        expected = ", ".join(ROLES)
        raise typer.BadParameter(f"unknown role {unknown[0]!r}; expected one of {expected}", param_hint="--role")
    if "tenant" in role and not customer_id:
        raise typer.BadParameter("a tenant key must name the customer it is limited to", param_hint="--customer-id")
    if customer_id is not None:
        try:
            customer_id = str(uuid.UUID(customer_id))
        except ValueError:
            raise typer.BadParameter("expected the customer's lago_id (a UUID)", param_hint="--customer-id") from None
    organization_id = _organization_id(org, data_dir)
    expires_in = None
    if expires is not None:
        try:
            expires_in = parse_expiry(expires)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--expires") from None
    pem = _private_key_path(private_key, data_dir).read_bytes()
    token = sign_token(
        pem, organization_id=organization_id, roles=list(dict.fromkeys(role)), customer_id=customer_id,
        subject=subject, expires_in=expires_in,
    )
    typer.echo(token)


@keys_app.command("public")
def show_public_key(private_key: PrivateKeyOption = None, data_dir: DataDirOption = None) -> None:
    """Print the public PEM that services verify keys with (INVORA_AUTH_PUBLIC_KEYS)."""
    pem = _private_key_path(private_key, data_dir).read_bytes()
    typer.echo(public_key_pem(pem).decode(), nl=False)


def _organization_id(org: str | None, data_dir: Path | None) -> uuid.UUID:
    if org is None:
        known = DevFiles.at(data_dir).known_organization_id()
        if known is None:
            raise typer.BadParameter("no dev organization yet; pass --org", param_hint="--org")
        return known
    try:
        return uuid.UUID(org)
    except ValueError:
        raise typer.BadParameter(f"{org!r} is not a UUID", param_hint="--org") from None


