"""Session-wide PostgreSQL and Kafka for tests: embedded, or the ones named in the environment."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from invora import secrets
from invora.auth.keys import generate_private_key_pem, public_key_pem, sign_token
from invora.db.migrate import upgrade
from invora.infra.kafka import EmbeddedKafka
from invora.infra.postgres import EmbeddedPostgres, database_urls, ensure_databases

# the key ring secrets at rest are encrypted with in tests: services started by the harness get it in
# their settings, and every test process has it configured (tests that write encrypted rows directly)
TEST_SECRETS_KEY = secrets.generate_key_entry("test")


@pytest.fixture(scope="session", autouse=True)
def invora_secrets_key() -> Iterator[str]:
    secrets.configure(secrets.KeyRing.parse(TEST_SECRETS_KEY))
    yield TEST_SECRETS_KEY
    secrets.configure(None)


@pytest.fixture(scope="session")
def invora_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin DSN of a PostgreSQL server (libpq URL)."""
    if url := os.environ.get("DATABASE_URL"):
        yield url.replace("postgresql+asyncpg://", "postgresql://")
        return
    directory = Path(tempfile.mkdtemp(prefix="invora-pg-"))
    server = EmbeddedPostgres(directory / "data")
    server.start()
    try:
        yield server.dsn
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)  # a suite's data is hundreds of MB


@pytest.fixture(scope="session")
def invora_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a Kafka-protocol broker."""
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
        return
    broker = EmbeddedKafka(log_file=tmp_path_factory.mktemp("kafka") / "broker.log")
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


class KeyPair:
    def __init__(self, directory: Path) -> None:
        self.private_pem = generate_private_key_pem()
        self.public_pem = public_key_pem(self.private_pem)
        self.public_path = directory / "public.pem"
        self.public_path.write_bytes(self.public_pem)

    def sign(self, organization_id: uuid.UUID | str, roles: list[str] | tuple[str, ...] = ("admin",), **kwargs) -> str:
        return sign_token(self.private_pem, organization_id=organization_id, roles=roles, **kwargs)


@pytest.fixture(scope="session")
def invora_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return KeyPair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def make_api_key(invora_keys: KeyPair):
    return invora_keys.sign


@pytest.fixture(scope="session")
def create_database(invora_postgres: str):
    """Factory: an empty new database on the test server; returns its asyncpg SQLAlchemy URL."""

    def create(prefix: str = "test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        _run(ensure_databases(invora_postgres, [name]))
        return database_urls(invora_postgres, [name])[name]

    return create


@pytest.fixture(scope="session")
def migrated_database(create_database):
    """Factory: a fresh database for `service`, upgraded to head with its Alembic migrations."""

    def migrated(service: str) -> str:
        url = create_database(service)
        upgrade(service, url)
        return url

    return migrated


def _run(coro):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
