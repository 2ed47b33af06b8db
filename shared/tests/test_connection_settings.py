"""Production connection settings: Kafka TLS/SASL reach every aiokafka client, PostgreSQL TLS and the
statement timeout reach the pool, raw connections and Alembic; impossible combinations stop start-up."""

from __future__ import annotations

import datetime as dt
import os
import ssl
from pathlib import Path
from typing import ClassVar

import asyncpg
import pydantic
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import text

from invora.bus import kafka_config
from invora.bus.admin import ensure_topics
from invora.bus.consumer import ConsumerSpec, EventConsumer
from invora.bus.producer import EventProducer
from invora.db.engine import Database
from invora.db.migrate import upgrade
from invora.db.options import DatabaseConnectOptions
from invora.settings import ServiceSettings


class GammaSettings(ServiceSettings):
    service_name: ClassVar[str] = "gamma"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("INVORA_") and ("KAFKA" in name.upper() or "DATABASE_SSL" in name.upper()):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> dict[str, Path]:
    """A CA, and a client certificate + key it signed (PEM files)."""
    directory = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)

    def certificate(name: str, key, issuer_name: x509.Name, issuer_key, ca: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256())
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "invora test CA")])
    ca_cert = certificate("invora test CA", ca_key, ca_name, ca_key, ca=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = certificate("invora-client", client_key, ca_name, ca_key, ca=False)
    files = {"ca": directory / "ca.pem", "cert": directory / "client.pem", "key": directory / "client.key"}
    files["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(client_cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(client_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return files


def _sasl_ssl_env(monkeypatch, tls_files) -> None:
    for name, value in {
        "INVORA_KAFKA_BOOTSTRAP_SERVERS": "kafka-1.example:9093,kafka-2.example:9093",
        "INVORA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "INVORA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "INVORA_KAFKA_SASL_USERNAME": "invora", "INVORA_KAFKA_SASL_PASSWORD": "s3cret-pw",
        "INVORA_KAFKA_SSL_CAFILE": str(tls_files["ca"]), "INVORA_KAFKA_SSL_CERTFILE": str(tls_files["cert"]),
        "INVORA_KAFKA_SSL_KEYFILE": str(tls_files["key"]),
    }.items():
        monkeypatch.setenv(name, value)


def _assert_secured(client, tls_files) -> None:
    """`client` is aiokafka's own AIOKafkaClient, the part that opens connections."""
    assert client._security_protocol == "SASL_SSL"
    assert client._sasl_mechanism == "SCRAM-SHA-512"
    assert client._sasl_plain_username == "invora"
    assert client._sasl_plain_password == "s3cret-pw"
    context = client._ssl_context
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
    assert any(dict(entry[0] for entry in ca["subject"]).get("commonName") == "invora test CA"
               for ca in context.get_ca_certs())
    assert client._bootstrap_servers == "kafka-1.example:9093,kafka-2.example:9093"


async def test_kafka_security_settings_reach_every_client(monkeypatch, tls_files):
    _sasl_ssl_env(monkeypatch, tls_files)
    settings = GammaSettings()
    built: dict[str, list] = {"producer": [], "consumer": [], "admin": []}
    # spies that record every client the suite constructs and still build the real aiokafka object
    for kind, attribute in (("producer", "AIOKafkaProducer"), ("consumer", "AIOKafkaConsumer"),
                            ("admin", "AIOKafkaAdminClient")):
        real = getattr(kafka_config, attribute)
        spy = type(attribute, (real,), {"__init__": lambda self, *a, _real=real, _kind=kind, **kw: (
            built[_kind].append(self), _real.__init__(self, *a, **kw))[1]})
        monkeypatch.setattr(kafka_config, attribute, spy)

    producer = EventProducer(settings.kafka, "gamma")
    spec = ConsumerSpec(name="c", topics=("invora.plan",), handler=lambda _s, _e: None)
    consumer = EventConsumer(spec, service="gamma", bootstrap_servers=settings.kafka, sessionmaker=None)
    with pytest.raises(Exception):  # noqa: B017 - nothing listens there; only the constructor matters
        await ensure_topics(settings.kafka, ["invora.plan"])

    assert built["producer"] == [producer._producer]
    assert built["consumer"] == [consumer._consumer]
    assert len(built["admin"]) == 1
    _assert_secured(producer._producer.client, tls_files)
    _assert_secured(consumer._consumer._client, tls_files)
    _assert_secured(built["admin"][0]._client, tls_files)
    # the client certificate is loaded for mutual TLS (a context without it would refuse the key's password)
    assert settings.kafka.ssl_context() is not None


async def test_plaintext_is_the_default_and_connects(invora_kafka, monkeypatch):
    monkeypatch.setenv("INVORA_KAFKA_BOOTSTRAP_SERVERS", invora_kafka)
    settings = GammaSettings()
    assert settings.kafka.client_kwargs() == {"bootstrap_servers": invora_kafka, "security_protocol": "PLAINTEXT"}
    await ensure_topics(settings.kafka, ["invora.plan"])


async def test_tls_client_really_speaks_tls(invora_kafka, tls_files):
    """The admin client of an SSL config opens a TLS handshake: the plaintext broker cannot answer it."""
    config = kafka_config.KafkaClientConfig(bootstrap_servers=invora_kafka, security_protocol="SSL",
                                            ssl_cafile=tls_files["ca"])
    with pytest.raises(Exception) as failure:  # noqa: B017 - aiokafka's bootstrap error
        await ensure_topics(config, ["invora.plan"])
    assert "bootstrap" in str(failure.value).lower() or "connect" in str(failure.value).lower()


@pytest.mark.parametrize(("env", "message"), [
    ({"INVORA_KAFKA_SECURITY_PROTOCOL": "TLS"}, "kafka_security_protocol\n  Input should be 'PLAINTEXT', 'SSL'"),
    ({"INVORA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "INVORA_KAFKA_SASL_MECHANISM": "PLAIN",
      "INVORA_KAFKA_SASL_USERNAME": "u"}, "needs INVORA_KAFKA_SASL_USERNAME and INVORA_KAFKA_SASL_PASSWORD"),
    ({"INVORA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "INVORA_KAFKA_SASL_USERNAME": "u",
      "INVORA_KAFKA_SASL_PASSWORD": "pw-not-echoed"}, "needs INVORA_KAFKA_SASL_MECHANISM"),
    ({"INVORA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "INVORA_KAFKA_SASL_MECHANISM": "GSSAPI",
      "INVORA_KAFKA_SASL_USERNAME": "u", "INVORA_KAFKA_SASL_PASSWORD": "pw-not-echoed"}, "kafka_sasl_mechanism"),
    ({"INVORA_KAFKA_SASL_USERNAME": "u", "INVORA_KAFKA_SASL_PASSWORD": "leaky-pw-123"},
     "does not use SASL"),
    ({"INVORA_KAFKA_SSL_CAFILE": "{ca}"}, "does not use TLS"),
    ({"INVORA_KAFKA_SECURITY_PROTOCOL": "SSL", "INVORA_KAFKA_SSL_CAFILE": "/nowhere/ca.pem"},
     "INVORA_KAFKA_SSL_CAFILE: no file at /nowhere/ca.pem"),
    ({"INVORA_KAFKA_SECURITY_PROTOCOL": "SSL", "INVORA_KAFKA_SSL_KEYFILE": "{key}"},
     "INVORA_KAFKA_SSL_KEYFILE given without INVORA_KAFKA_SSL_CERTFILE"),
    ({"INVORA_KAFKA_SECURITY_PROTOCOL": "SSL", "INVORA_KAFKA_SSL_CAFILE": "{key}"}, "cannot be loaded"),
    ({"INVORA_DATABASE_SSL_MODE": "verify-full"}, "needs INVORA_DATABASE_SSL_ROOT_CERT"),
    ({"INVORA_DATABASE_SSL_MODE": "prefer", "INVORA_DATABASE_SSL_ROOT_CERT": "{ca}"}, "never checks it"),
    ({"INVORA_DATABASE_SSL_MODE": "verify-ca", "INVORA_DATABASE_SSL_ROOT_CERT": "/nowhere/root.crt"},
     "no file at /nowhere/root.crt"),
    ({"INVORA_DATABASE_SSL_MODE": "sometimes"}, "database_ssl_mode"),
])
def test_bad_combinations_fail_at_start_up_with_the_reason(monkeypatch, tls_files, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(ca=tls_files["ca"], key=tls_files["key"]))
    with pytest.raises(pydantic.ValidationError) as failure:
        GammaSettings()
    assert message in str(failure.value)
    if "INVORA_KAFKA_SASL_PASSWORD" in env:
        assert env["INVORA_KAFKA_SASL_PASSWORD"] not in str(failure.value)  # never echoed


def test_a_service_own_prefix_configures_its_clients(monkeypatch):
    monkeypatch.setenv("INVORA_GAMMA_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("INVORA_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("INVORA_KAFKA_SASL_USERNAME", "gamma")
    monkeypatch.setenv("INVORA_GAMMA_KAFKA_SASL_PASSWORD", "pw")
    kwargs = GammaSettings().kafka.client_kwargs()
    assert kwargs["security_protocol"] == "SASL_PLAINTEXT" and "ssl_context" not in kwargs
    assert (kwargs["sasl_mechanism"], kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == (
        "PLAIN", "gamma", "pw")


def test_postgres_tls_modes_map_to_asyncpg(tls_files):
    full = DatabaseConnectOptions(ssl_mode="verify-full", ssl_root_cert=tls_files["ca"]).connect_args()["ssl"]
    assert isinstance(full, ssl.SSLContext) and full.check_hostname and full.verify_mode == ssl.CERT_REQUIRED
    ca = DatabaseConnectOptions(ssl_mode="verify-ca", ssl_root_cert=tls_files["ca"]).connect_args()["ssl"]
    assert not ca.check_hostname and ca.verify_mode == ssl.CERT_REQUIRED
    assert DatabaseConnectOptions(ssl_mode="require").connect_args() == {"ssl": "require"}
    assert DatabaseConnectOptions().connect_args() == {}
    dsn = DatabaseConnectOptions(ssl_mode="verify-full", ssl_root_cert=tls_files["ca"], statement_timeout_ms=900).dsn(
        "postgresql+asyncpg://u:p@db.example:5432/invora_catalog")
    assert dsn.startswith("postgresql://u:p@db.example:5432/invora_catalog?")
    assert "sslmode=verify-full" in dsn and f"sslrootcert={tls_files['ca']}".replace("/", "%2F") in dsn
    assert "statement_timeout=900" in dsn


async def test_statement_timeout_reaches_pool_and_raw_connections(create_database):
    url = create_database("timeouts")
    database = Database(url, 2, DatabaseConnectOptions(statement_timeout_ms=1234))
    try:
        async with database.engine.connect() as conn:
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar_one() == "1234ms"
            with pytest.raises(Exception, match="statement timeout"):
                await conn.execute(text("SELECT pg_sleep(3)"))
        raw = await asyncpg.connect(database.asyncpg_dsn)  # the relay's and LISTEN's way in
        try:
            assert await raw.fetchval("SHOW statement_timeout") == "1234ms"
        finally:
            await raw.close()
    finally:
        await database.dispose()


async def test_ssl_mode_is_honoured_by_pool_raw_connections_and_alembic(create_database, monkeypatch):
    """The test server has no TLS: `require` must refuse to connect everywhere, `disable` must connect."""
    url = create_database("tls")
    required = Database(url, 1, DatabaseConnectOptions(ssl_mode="require"))
    try:
        with pytest.raises(Exception, match="(?i)ssl"):
            await required.ping()
        with pytest.raises(Exception, match="(?i)ssl"):
            await asyncpg.connect(required.asyncpg_dsn)
    finally:
        await required.dispose()
    monkeypatch.setenv("INVORA_DATABASE_SSL_MODE", "require")
    with pytest.raises(Exception, match="(?i)ssl"):
        upgrade("catalog", url)
    monkeypatch.setenv("INVORA_DATABASE_SSL_MODE", "disable")
    upgrade("catalog", url)
    plain = Database(url, 1, DatabaseConnectOptions(ssl_mode="disable"))
    try:
        async with plain.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one() == 1
    finally:
        await plain.dispose()


def test_the_tools_connect_with_the_services_tls_settings(create_database, monkeypatch):
    """`invora migrate` (CREATE DATABASE, Alembic) and `invora secrets rotate` open their own connections:
    they must honour INVORA_DATABASE_SSL_MODE too (the test server has no TLS, so `require` fails)."""
    from typer.testing import CliRunner

    from invora.cli.main import app
    from invora.secrets import generate_key_entry

    url = create_database("tools")
    monkeypatch.setenv("INVORA_NOTIFICATIONS_DATABASE_URL", url)
    monkeypatch.setenv("INVORA_SECRETS_KEY", generate_key_entry("t"))
    runner = CliRunner()
    monkeypatch.setenv("INVORA_DATABASE_SSL_MODE", "require")
    for command in (["migrate", "notifications"], ["secrets", "rotate", "notifications"]):
        refused = runner.invoke(app, command)
        assert refused.exit_code != 0 and "ssl" in repr(refused.exception).lower(), (command, refused.output)
    monkeypatch.setenv("INVORA_DATABASE_SSL_MODE", "disable")
    for command in (["migrate", "notifications"], ["secrets", "rotate", "notifications"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output, result.exception)
