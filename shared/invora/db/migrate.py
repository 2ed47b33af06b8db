"""Run a service's Alembic migrations programmatically (used by `invora migrate`, `invora dev`, tests)."""

from __future__ import annotations

import importlib
from pathlib import Path

SERVICES = ("catalog", "subscriptions", "invoicing", "payments", "wallets", "notifications")


def service_root(service: str) -> Path:
    """The folder holding the service's `alembic.ini` and `migrations/`."""
    module = importlib.import_module(service)
    return Path(module.__file__).resolve().parent.parent


def service_settings_class(service: str):
    """The service's settings class (`<service>.settings`), read from the environment when called."""
    from invora.settings import ServiceSettings

    module = importlib.import_module(f"{service}.settings")
    return next(obj for obj in vars(module).values()
                if isinstance(obj, type) and issubclass(obj, ServiceSettings) and obj.service_name == service)


def connection_options(service: str):
    """TLS of the service's settings, without its statement timeout: what tools (migrations, CREATE
    DATABASE, `invora secrets rotate`) connect with."""
    from dataclasses import replace

    return replace(service_settings_class(service)().database_options, statement_timeout_ms=0)


def alembic_config(service: str, database_url: str):
    from alembic.config import Config

    root = service_root(service)
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(service, database_url), revision)


def downgrade(service: str, database_url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(service, database_url), revision)
