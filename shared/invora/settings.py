"""Service settings from environment variables (and a `.env` file).

Every service reads variables with its own prefix, `INVORA_<SERVICE>_`, and falls back
to the suite-wide prefix `INVORA_` for anything it does not set itself, so one
`INVORA_KAFKA_BOOTSTRAP_SERVERS` serves all six services while
`INVORA_CATALOG_DATABASE_URL` stays the catalog's own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from invora.bus.kafka_config import KafkaClientConfig, SaslMechanism, SecurityProtocol
from invora.db.options import DatabaseConnectOptions, SslMode
from invora.secrets import KeyRing, SecretsError

SUITE_PREFIX = "INVORA_"
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.DOTALL)


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclass with `service_name` set and add your own fields."""

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8100

    # hide_input_in_errors: a refused setting must not print the passwords beside it
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_nested_delimiter="__",
                                      hide_input_in_errors=True)

    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/invora",
        description="SQLAlchemy URL of this service's own database (asyncpg driver).",
    )
    database_pool_size: int = Field(10, ge=1, description="Connections kept in the pool (as many again may "
                                    "open in bursts); size it so replicas x (2 x pool) stays under the server's "
                                    "`max_connections`.")
    database_ssl_mode: SslMode | None = Field(
        None, description="libpq-style `sslmode` for every connection (pool, relay, LISTEN, migrations): disable, "
        "allow, prefer, require, verify-ca, verify-full. Unset: asyncpg's default (prefer).")
    database_ssl_root_cert: Path | None = Field(
        None, description="CA certificate (PEM) the server's certificate is verified against (verify-ca, "
        "verify-full; with require it makes the check happen, as libpq does).")
    database_statement_timeout_ms: int = Field(
        0, ge=0, description="`statement_timeout` of every connection in milliseconds; 0 keeps the server's.")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka brokers, comma-separated.")
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; for every producer, consumer and "
        "admin client.")
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* protocols only).")
    kafka_sasl_username: str | None = Field(None, description="SASL user name (SASL_* protocols only).")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (SASL_* protocols only).")
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA bundle (PEM) the brokers' certificates are verified against (SSL, SASL_SSL); unset: "
        "the system trust store.")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(None, description="Private key (PEM) of the client certificate.")
    kafka_ssl_keyfile_password: SecretStr | None = Field(None, description="Password of the client key, if any.")
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
    secrets_key: SecretStr | None = Field(
        None, description="Key ring secrets at rest are encrypted with: `<id>:<base64 of 32 bytes>` entries, "
        "comma-separated, the current key first (older ones still decrypt), or the path of a file with one entry a "
        "line. Required by services that store secrets (notifications).")
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body accepted (bytes; 413 above); routes that take more "
        "(the event batch) have their own documented limit.")
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
    consumer_session_timeout_ms: int = Field(
        10_000, ge=1_000, le=300_000, description="Kafka consumer session timeout (a group join waits about half of "
        "it on the embedded broker); heartbeats go at a third of it.")
    consumer_fetch_max_wait_ms: int = Field(
        100, ge=1, le=5_000, description="Longest a fetch waits at the broker. Kafka answers as soon as data "
        "arrives; brokers that do not (the embedded Tansu) add up to this much latency.")
    gc_freeze: bool = Field(True, description="After start-up, move everything start-up built out of the "
                                              "garbage collector's full passes (`gc.freeze`), which otherwise "
                                              "stall requests for tens of milliseconds.")
    idempotency_ttl_hours: float = Field(24.0, ge=24.0, description="How long Idempotency-Key responses are replayed.")
    api_log_enabled: bool = Field(True, description="Record every authenticated mutating `/api/` request as an "
                                  "`api_log.recorded` event (notifications serves them at `/api/v1/api_logs`).")

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

    @model_validator(mode="after")
    def _connections_can_work(self) -> ServiceSettings:
        # raised while the settings load: the service stops at start-up with the reason
        self.kafka.validate()
        self.database_options.validate()
        try:
            self.secrets_keyring  # noqa: B018 - parsed now so a bad key stops start-up
        except SecretsError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def secrets_keyring(self) -> KeyRing | None:
        return KeyRing.parse(self.secrets_key.get_secret_value()) if self.secrets_key else None

    @property
    def kafka(self) -> KafkaClientConfig:
        """What every Kafka client of this service connects with."""
        return KafkaClientConfig(
            bootstrap_servers=self.kafka_bootstrap_servers, security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism, sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None,
            ssl_cafile=self.kafka_ssl_cafile, ssl_certfile=self.kafka_ssl_certfile, ssl_keyfile=self.kafka_ssl_keyfile,
            ssl_keyfile_password=(self.kafka_ssl_keyfile_password.get_secret_value()
                                  if self.kafka_ssl_keyfile_password else None),
        )

    @property
    def database_options(self) -> DatabaseConnectOptions:
        return DatabaseConnectOptions(ssl_mode=self.database_ssl_mode, ssl_root_cert=self.database_ssl_root_cert,
                                      statement_timeout_ms=self.database_statement_timeout_ms)

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
