"""How every PostgreSQL connection of a service is opened: TLS and the statement timeout.

One `DatabaseConnectOptions` feeds the three kinds of connection a service opens, so a setting
cannot reach one and miss another:

- the SQLAlchemy pool (`connect_args()`: asyncpg's `ssl` and `server_settings` arguments);
- raw asyncpg connections of the outbox relay and LISTEN loops (`dsn()`: the same as the libpq
  query parameters asyncpg reads from a URL, `sslmode`, `sslrootcert` and server settings);
- Alembic migrations (`invora.db.alembic_env` passes `connect_args()` to its engine).

`sslmode` follows libpq: `require` encrypts without checking the certificate unless a root
certificate is given, `verify-ca` checks the chain, `verify-full` the chain and the host name.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import make_url

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
VERIFYING_MODES = ("verify-ca", "verify-full")


class DatabaseSettingsError(ValueError):
    """`INVORA_DATABASE_SSL_*` settings that cannot work together."""


@dataclass(frozen=True)
class DatabaseConnectOptions:
    ssl_mode: str | None = None
    ssl_root_cert: Path | None = None
    statement_timeout_ms: int = 0

    def validate(self) -> None:
        if self.ssl_mode in VERIFYING_MODES and self.ssl_root_cert is None:
            # asyncpg would fall back to ~/.postgresql/root.crt; say so plainly instead
            raise DatabaseSettingsError(
                f"Database settings: INVORA_DATABASE_SSL_MODE={self.ssl_mode} needs INVORA_DATABASE_SSL_ROOT_CERT "
                "(the CA certificate the server's certificate is checked against)")
        if self.ssl_root_cert is not None:
            if self.ssl_mode in (None, "disable", "allow", "prefer"):
                raise DatabaseSettingsError(
                    f"Database settings: INVORA_DATABASE_SSL_ROOT_CERT given but INVORA_DATABASE_SSL_MODE="
                    f"{self.ssl_mode or 'unset'} never checks it (use require, verify-ca or verify-full)")
            if not Path(self.ssl_root_cert).is_file():
                raise DatabaseSettingsError(f"Database settings: INVORA_DATABASE_SSL_ROOT_CERT: no file at "
                                            f"{self.ssl_root_cert}")
            try:
                self.ssl_value()
            except (OSError, ssl.SSLError) as exc:
                raise DatabaseSettingsError(
                    f"Database settings: INVORA_DATABASE_SSL_ROOT_CERT cannot be loaded: {exc}") from exc

    def ssl_value(self) -> ssl.SSLContext | str | None:
        """asyncpg's `ssl` argument: a context when a certificate is checked, else the mode's name."""
        if self.ssl_mode is None:
            return None
        if self.ssl_root_cert is not None and self.ssl_mode in ("require", *VERIFYING_MODES):
            context = ssl.create_default_context(cafile=str(self.ssl_root_cert))
            context.check_hostname = self.ssl_mode == "verify-full"
            return context
        return self.ssl_mode

    def server_settings(self) -> dict[str, str]:
        return {"statement_timeout": str(self.statement_timeout_ms)} if self.statement_timeout_ms else {}

    def connect_args(self) -> dict[str, Any]:
        """Keyword arguments for asyncpg.connect (SQLAlchemy's `connect_args`)."""
        args: dict[str, Any] = {}
        ssl_value = self.ssl_value()
        if ssl_value is not None:
            args["ssl"] = ssl_value
        if settings := self.server_settings():
            args["server_settings"] = settings
        return args

    def dsn(self, url: str) -> str:
        """`url` as a plain libpq URL carrying these options, for raw `asyncpg.connect(dsn)` calls."""
        parsed = make_url(url).set(drivername="postgresql")
        query = dict(parsed.query)
        if self.ssl_mode is not None:
            query["sslmode"] = self.ssl_mode
        if self.ssl_root_cert is not None:
            query["sslrootcert"] = str(self.ssl_root_cert)
        query.update(self.server_settings())  # asyncpg turns unknown URL parameters into server settings
        return parsed.set(query=query).render_as_string(hide_password=False)
