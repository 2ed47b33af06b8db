"""PostgreSQL and Kafka for `invora dev`: the servers named by `DATABASE_URL` /
`KAFKA_BOOTSTRAP_SERVERS` when set, embedded ones otherwise."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import psutil

from invora.cli import leftovers
from invora.cli.dev_files import DevFiles
from invora.db.migrate import SERVICES, upgrade
from invora.infra import localstripe
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


class Infrastructure:
    """What is running (or reachable) once the `start_*` calls return; `stop` undoes only what
    this run started."""

    def __init__(self, files: DevFiles, report: Callable[[str], None]) -> None:
        self.files = files
        self.report = report
        self.admin_dsn = ""
        self.kafka_bootstrap_servers = ""
        self.postgres: EmbeddedPostgres | None = None
        self.kafka: EmbeddedKafka | None = None
        self.stripe_api_base = ""
        self.stripe: localstripe.LocalStripe | None = None
        self._stripe_port = 0

    def start_postgres(self, port: int) -> None:
        external = os.environ.get("DATABASE_URL")
        if external:
            self.admin_dsn = external
            self.report("PostgreSQL: using DATABASE_URL")
            return
        data_dir = self.files.postgres_dir
        # A server left running by a supervisor that was killed outright still holds the port;
        # EmbeddedPostgres stops it itself (it is ours: this run holds the data dir's lock).
        if not (data_dir / "postmaster.pid").exists():
            require_free_port(port, "PostgreSQL")
        self.postgres = EmbeddedPostgres(data_dir, port=port, host=LOOPBACK)
        self.postgres.start()
        self.admin_dsn = self.postgres.dsn
        self.report(f"PostgreSQL: embedded on {LOOPBACK}:{port} (data in {data_dir})")

    def start_kafka(self, port: int) -> None:
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if external:
            self.kafka_bootstrap_servers = external
            self.report("Kafka: using KAFKA_BOOTSTRAP_SERVERS")
            return
        require_free_port(port, "Kafka")
        log = self.files.log_file("kafka")
        log.write_bytes(b"")  # EmbeddedKafka appends; one run per log keeps the tail relevant
        self.kafka = EmbeddedKafka(port=port, host=LOOPBACK, log_file=log)
        self.kafka.start()
        if self.kafka.process is not None:
            leftovers.record(self.files.run_dir, "kafka", self.kafka.process.pid)
        self.kafka_bootstrap_servers = self.kafka.bootstrap_servers
        self.report(f"Kafka: embedded Tansu on {self.kafka_bootstrap_servers} (memory only)")

    def start_stripe_fake(self, port: int) -> None:
        """localstripe on `port`, so that payments charges invoices on a Stripe fake out of the box; a Stripe
        base URL given in the environment (`INVORA_PAYMENTS_STRIPE_API_BASE`, e.g. Stripe's own) wins."""
        external = os.environ.get(localstripe.STRIPE_API_BASE_ENV)
        if external:
            self.stripe_api_base = external
            self.report(f"Stripe: using {localstripe.STRIPE_API_BASE_ENV} ({external})")
            return
        if not localstripe.available():
            self.report("Stripe: localstripe is not installed (a development dependency): payments talks to "
                        "Stripe's own API")
            return
        require_free_port(port, "localstripe")
        self._stripe_port = port
        self._start_stripe()
        self.report(f"Stripe: localstripe (the Stripe fake, memory only) on {self.stripe_api_base}")

    def _start_stripe(self) -> None:
        log = self.files.log_file("localstripe")
        self.stripe = localstripe.start_localstripe(log, port=self._stripe_port, host=LOOPBACK, own_session=True)
        leftovers.record(self.files.run_dir, "localstripe", self.stripe.process.pid)
        self.stripe_api_base = self.stripe.url

    # -- supervision: only what this run started, on the same port and data -----------------------
    def supervised(self) -> list[str]:
        parts = (("postgres", self.postgres), ("kafka", self.kafka), ("localstripe", self.stripe))
        return [name for name, part in parts if part is not None]

    def running(self, name: str) -> bool:
        if name == "localstripe":
            return self.stripe is not None and self.stripe.running()
        if name == "kafka":
            return self.kafka is not None and self.kafka.process is not None and self.kafka.process.poll() is None
        assert self.postgres is not None
        pid = self.postgres.postmaster_pid()
        try:
            return pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def restart(self, name: str) -> None:
        """Start `name` again after it died (raises when it cannot start yet; the caller backs off)."""
        if name == "localstripe":
            assert self.stripe is not None
            localstripe.stop_localstripe(self.stripe)  # reaps the dead process
            self._start_stripe()  # same port, empty (memory only)
            return
        if name == "kafka":
            assert self.kafka is not None
            self.kafka.stop()  # reaps the dead process
            self.kafka.start()  # same port, empty: services notice the new cluster and republish
            if self.kafka.process is not None:
                leftovers.record(self.files.run_dir, "kafka", self.kafka.process.pid)
        else:
            assert self.postgres is not None
            self.postgres.start()  # same data: PostgreSQL's own crash recovery replays its WAL

    def prepare_databases(self, services: tuple[str, ...], migrate: bool) -> dict[str, str]:
        """Create (and migrate) one database per service; returns their URLs."""
        asyncio.run(ensure_databases(self.admin_dsn, [database_name(s) for s in services]))
        urls = service_database_urls(self.admin_dsn, services)
        if migrate:
            for service, url in urls.items():
                upgrade(service, url)
                self.report(f"migrated {service}")
        return urls

    def stop(self) -> None:
        if self.stripe is not None:
            localstripe.stop_localstripe(self.stripe)
            leftovers.forget(self.files.run_dir, "localstripe")
            self.stripe = None
        if self.kafka is not None:
            self.kafka.stop()
            leftovers.forget(self.files.run_dir, "kafka")
            self.kafka = None
        if self.postgres is not None:
            try:
                self.postgres.stop()
            except RuntimeError as exc:
                self.report(str(exc))
            self.postgres = None


