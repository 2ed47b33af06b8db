"""Service settings from environment variables (and a `.env` file).

Every service reads variables with its own prefix, `INVORA_<SERVICE>_`, and falls back
to the suite-wide prefix `INVORA_` for anything it does not set itself, so one
`INVORA_KAFKA_BOOTSTRAP_SERVERS` serves all six services while
`INVORA_CATALOG_DATABASE_URL` stays the catalog's own.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

SUITE_PREFIX = "INVORA_"
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.DOTALL)


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclass with `service_name` set and add your own fields."""

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8100

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_nested_delimiter="__")

    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/invora",
        description="SQLAlchemy URL of this service's own database (asyncpg driver).",
    )
    database_pool_size: int = Field(10, ge=1, description="Connections kept in the pool.")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka brokers, comma-separated.")
    kafka_topic_partitions: int = Field(3, ge=1, description="Partitions for topics this service creates.")
    kafka_replication_factor: int = Field(1, ge=1, description="Replication factor for created topics.")
    auth_public_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Public keys (PEM text or paths to PEM files, JSON list or comma-separated) "
        "that API keys are verified against.",
    )
    auth_issuer: str = Field("invora", description="Expected `iss` claim of API keys.")
    auth_cache_seconds: float = Field(
        60.0, ge=0, description="How long a verified API key is remembered (never past its expiry); 0 disables."
    )
    auth_leeway_seconds: float = Field(
        30.0, ge=0, le=300, description="Clock skew forgiven when checking an API key's `exp`, `nbf` and `iat`.")
    host: str = Field("127.0.0.1", description="Address uvicorn binds to.")
    port: int = Field(0, ge=0, le=65535, description="Port; 0 means the service's default port.")
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(True, description="JSON log lines (false: human-readable console).")
    relay_enabled: bool = Field(True, description="Run the outbox relay inside this process.")
    relay_poll_interval_seconds: float = Field(1.0, gt=0, description="Outbox poll when no NOTIFY arrives.")
    relay_batch_size: int = Field(500, ge=1, le=10000, description="Outbox rows published per batch.")
    outbox_retention_hours: float = Field(24.0, ge=0, description="Published outbox rows kept this long.")
    inbox_retention_hours: float = Field(
        720.0, ge=1, description="Processed event ids (the consumers' de-duplication) kept this long; must exceed "
        "the broker's topic retention, or an event replayed from it after its id is gone takes effect again.")
    consumers_enabled: bool = Field(True, description="Run this service's Kafka consumers in-process.")
    gc_freeze: bool = Field(True, description="After start-up, move everything start-up built out of the "
                                              "garbage collector's full passes (`gc.freeze`), which otherwise "
                                              "stall requests for tens of milliseconds.")
    idempotency_ttl_hours: float = Field(24.0, ge=24.0, description="How long Idempotency-Key responses are replayed.")

    @field_validator("auth_public_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return []
            if text.startswith("["):  # before the PEM test: a JSON list may hold inline PEMs
                return json.loads(text)
            if "-----BEGIN" in text:
                # one or more inline PEMs; one-line variables often carry "\n" for newlines
                text = text.replace("\\n", "\n")
                return _PEM_BLOCK.findall(text) or [text]
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def listen_port(self) -> int:
        return self.port or self.default_port

    @classmethod
    def env_prefix(cls) -> str:
        return f"{SUITE_PREFIX}{cls.service_name.upper()}_"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        own = EnvSettingsSource(settings_cls, env_prefix=cls.env_prefix())
        suite = EnvSettingsSource(settings_cls, env_prefix=SUITE_PREFIX)
        own_dotenv = DotEnvSettingsSource(settings_cls, env_prefix=cls.env_prefix())
        suite_dotenv = DotEnvSettingsSource(settings_cls, env_prefix=SUITE_PREFIX)
        return (init_settings, own, suite, own_dotenv, suite_dotenv, file_secret_settings)
