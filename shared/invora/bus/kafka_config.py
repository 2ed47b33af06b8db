"""How every Kafka client of the suite connects: brokers, TLS and SASL, in one place.

Producers, consumers and admin clients are all built from one `KafkaClientConfig` (from the
`INVORA_KAFKA_*` settings), so a security setting can never reach one kind of client and miss
another. `validate()` runs when the settings load: a combination that cannot work (SASL without
credentials, client certificates on a PLAINTEXT link, a CA file that is not there) stops the
service at start-up with a message naming the settings, not at the first publish.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SECURITY_PROTOCOLS: tuple[str, ...] = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: tuple[str, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaSettingsError(ValueError):
    """A combination of `INVORA_KAFKA_*` settings that cannot connect."""


@dataclass(frozen=True)
class KafkaClientConfig:
    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_keyfile_password: str | None = None

    @classmethod
    def of(cls, value: str | KafkaClientConfig) -> KafkaClientConfig:
        """A config from a config or a bare bootstrap address (PLAINTEXT: tests, benchmarks)."""
        return value if isinstance(value, KafkaClientConfig) else cls(bootstrap_servers=value)

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def validate(self) -> None:
        problems: list[str] = []
        if not self.bootstrap_servers.strip():
            problems.append("INVORA_KAFKA_BOOTSTRAP_SERVERS is empty")
        if self.security_protocol not in SECURITY_PROTOCOLS:
            problems.append(f"INVORA_KAFKA_SECURITY_PROTOCOL={self.security_protocol!r} is not one of "
                            f"{', '.join(SECURITY_PROTOCOLS)}")
        sasl_given = [name for name, value in (
            ("INVORA_KAFKA_SASL_MECHANISM", self.sasl_mechanism), ("INVORA_KAFKA_SASL_USERNAME", self.sasl_username),
            ("INVORA_KAFKA_SASL_PASSWORD", self.sasl_password)) if value]
        if self.uses_sasl:
            if self.sasl_mechanism not in SASL_MECHANISMS:
                problems.append(f"{self.security_protocol} needs INVORA_KAFKA_SASL_MECHANISM, one of "
                                f"{', '.join(SASL_MECHANISMS)} (got {self.sasl_mechanism!r})")
            if not self.sasl_username or not self.sasl_password:
                problems.append(f"{self.security_protocol} needs INVORA_KAFKA_SASL_USERNAME and "
                                "INVORA_KAFKA_SASL_PASSWORD")
        elif sasl_given and self.security_protocol in SECURITY_PROTOCOLS:
            problems.append(f"{', '.join(sasl_given)} given but INVORA_KAFKA_SECURITY_PROTOCOL="
                            f"{self.security_protocol} does not use SASL (use SASL_PLAINTEXT or SASL_SSL)")
        tls_given = [name for name, value in (
            ("INVORA_KAFKA_SSL_CAFILE", self.ssl_cafile), ("INVORA_KAFKA_SSL_CERTFILE", self.ssl_certfile),
            ("INVORA_KAFKA_SSL_KEYFILE", self.ssl_keyfile)) if value]
        if tls_given and not self.uses_tls and self.security_protocol in SECURITY_PROTOCOLS:
            problems.append(f"{', '.join(tls_given)} given but INVORA_KAFKA_SECURITY_PROTOCOL="
                            f"{self.security_protocol} does not use TLS (use SSL or SASL_SSL)")
        if self.ssl_keyfile and not self.ssl_certfile:
            problems.append("INVORA_KAFKA_SSL_KEYFILE given without INVORA_KAFKA_SSL_CERTFILE")
        for name, path in (("INVORA_KAFKA_SSL_CAFILE", self.ssl_cafile),
                           ("INVORA_KAFKA_SSL_CERTFILE", self.ssl_certfile),
                           ("INVORA_KAFKA_SSL_KEYFILE", self.ssl_keyfile)):
            if path is not None and not Path(path).is_file():
                problems.append(f"{name}: no file at {path}")
        if problems:
            raise KafkaSettingsError("Kafka settings: " + "; ".join(problems))
        if self.uses_tls:
            try:
                self.ssl_context()
            except (OSError, ssl.SSLError) as exc:
                raise KafkaSettingsError(f"Kafka settings: the TLS files cannot be loaded: {exc}") from exc

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        # no CA file: the system's trust store (a managed cluster with a public certificate)
        return create_ssl_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
            certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
            keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
            password=self.ssl_keyfile_password,
        )

    def client_kwargs(self) -> dict[str, Any]:
        """The connection arguments every aiokafka client constructor takes."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers, "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            kwargs.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                          sasl_plain_password=self.sasl_password)
        return kwargs

    # -- the one factory of each client kind -----------------------------------------------------
    def producer(self, **options: Any) -> AIOKafkaProducer:
        return AIOKafkaProducer(**self.client_kwargs(), **options)

    def consumer(self, *topics: str, **options: Any) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(*topics, **self.client_kwargs(), **options)

    def admin(self, **options: Any) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(**self.client_kwargs(), **options)
