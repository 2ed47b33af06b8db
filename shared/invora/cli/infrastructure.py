"""PostgreSQL and Kafka for `invora dev`: the servers named by `DATABASE_URL` /
`KAFKA_BOOTSTRAP_SERVERS` when set, embedded ones otherwise."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from invora.cli import leftovers
from invora.cli.dev_files import DevFiles
from invora.db.migrate import SERVICES, upgrade
from invora.infra.kafka import EmbeddedKafka
from invora.infra.ports import port_open
from invora.infra.postgres import EmbeddedPostgres, database_urls, ensure_databases

LOOPBACK = "127.0.0.1"


class PortInUse(RuntimeError):
    pass


def database_name(service: str) -> str:
    return f"invora_{service}"


def service_database_urls(admin_dsn: str, services: tuple[str, ...] = SERVICES) -> dict[str, str]:
    urls = database_urls(admin_dsn, [database_name(s) for s in services])
    return {service: urls[database_name(service)] for service in services}


def require_free_port(port: int, what: str) -> None:
    if port_open(LOOPBACK, port):
        raise PortInUse(f"port {port} ({what}) is already in use; pick another with the matching option")


@dataclass
class Infrastructure:
    """What is running (or reachable) once `start` returns; `stop` undoes only what it started."""

    admin_dsn: str = ""
    kafka_bootstrap_servers: str = ""
    postgres: EmbeddedPostgres | None = None
    kafka: EmbeddedKafka | None = None
    _files: DevFiles | None = field(default=None, repr=False)

    def start_postgres(self, files: DevFiles, port: int, report: Callable[[str], None]) -> None:
        external = os.environ.get("DATABASE_URL")
        if external:
            self.admin_dsn = external
            report("PostgreSQL: using DATABASE_URL")
            return
        # A server left running by a supervisor that was killed outright still holds the port;
        # EmbeddedPostgres stops it itself (it is ours: this run holds the data dir's lock).
        if not (files.postgres_dir / "postmaster.pid").exists():
            require_free_port(port, "PostgreSQL")
        self.postgres = EmbeddedPostgres(files.postgres_dir, port=port, host=LOOPBACK)
        self.postgres.start()
        self.admin_dsn = self.postgres.dsn
        report(f"PostgreSQL: embedded on {LOOPBACK}:{port} (data in {files.postgres_dir})")

    def start_kafka(self, files: DevFiles, port: int, report: Callable[[str], None]) -> None:
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if external:
            self.kafka_bootstrap_servers = external
            report("Kafka: using KAFKA_BOOTSTRAP_SERVERS")
            return
        require_free_port(port, "Kafka")
        log = files.log_file("kafka")
        log.write_bytes(b"")
        self.kafka = EmbeddedKafka(port=port, host=LOOPBACK, log_file=log)
        self._files = files
        self.kafka.start()
        if self.kafka.process is not None:
            leftovers.record(files.run_dir, "kafka", self.kafka.process.pid)
        self.kafka_bootstrap_servers = self.kafka.bootstrap_servers
        report(f"Kafka: embedded Tansu on {self.kafka_bootstrap_servers} (memory only)")

    def prepare_databases(self, services: tuple[str, ...], migrate: bool, report: Callable[[str], None]) -> None:
        asyncio.run(ensure_databases(self.admin_dsn, [database_name(s) for s in services]))
        if not migrate:
            return
        for service, url in service_database_urls(self.admin_dsn, services).items():
            upgrade(service, url)
            report(f"migrated {service}")

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.stop()
            if self._files is not None:
                leftovers.forget(self._files.run_dir, "kafka")
            self.kafka = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
