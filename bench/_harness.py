"""What every service benchmark starts with: PostgreSQL and the broker (embedded ones, or
DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set), a fresh migrated database for the service, and
a key pair that signs the benchmark's API keys. Benchmarks import it from their own folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from invora.auth.keys import generate_private_key_pem, public_key_pem
from invora.db.migrate import upgrade
from invora.infra.kafka import EmbeddedKafka
from invora.infra.ports import free_port, wait_for_port
from invora.infra.postgres import EmbeddedPostgres, database_urls, ensure_databases
from invora.secrets import generate_key_entry

# Scripts here are named after what they measure (payments.py, wallets.py), which would shadow the
# services' packages of the same name while this folder is first on sys.path (a script's folder is):
# every script imports this module first, and it moves the folder last, so the installed packages win
# and sibling scripts (`from ingestion import …`) still import; spawned workers inherit the order.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]


@dataclass(frozen=True)
class BenchEnvironment:
    workdir: Path
    database_url: str  # postgresql+asyncpg://…, migrated for the service
    kafka_bootstrap_servers: str
    private_pem: bytes
    public_key_path: Path


@contextlib.contextmanager
def bench_environment(service: str) -> Iterator[BenchEnvironment]:
    workdir = Path(tempfile.mkdtemp(prefix="invora-bench-"))
    private_pem = generate_private_key_pem()
    key_path = workdir / "public.pem"
    key_path.write_bytes(public_key_pem(private_pem))
    postgres = kafka = None
    try:
        admin = os.environ.get("DATABASE_URL", "").replace("postgresql+asyncpg://", "postgresql://")
        if not admin:
            postgres = EmbeddedPostgres(workdir / "pg")
            postgres.start()
            admin = postgres.dsn
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            kafka = EmbeddedKafka()
            kafka.start()
            bootstrap = kafka.bootstrap_servers
        name = f"bench_{service}_{uuid.uuid4().hex[:8]}"
        asyncio.run(ensure_databases(admin, [name]))
        url = database_urls(admin, [name])[name]
        upgrade(service, url)
        yield BenchEnvironment(workdir, url, bootstrap, private_pem, key_path)
    finally:
        if kafka is not None:
            kafka.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


_BENCH_SECRETS_KEY = generate_key_entry("bench")


@contextlib.contextmanager
def serve(env: BenchEnvironment, service: str, workers: int = 1) -> Iterator[str]:
    """The service's app under uvicorn (uvloop, httptools, no access log) in a child process, as in
    production, on the benchmark's database, broker and keys, its scheduler off; yields its base URL."""
    port = free_port("127.0.0.1")
    prefix = f"INVORA_{service.upper()}_"
    environment = {**os.environ, f"{prefix}DATABASE_URL": env.database_url,
                   "INVORA_KAFKA_BOOTSTRAP_SERVERS": env.kafka_bootstrap_servers,
                   "INVORA_AUTH_PUBLIC_KEYS": str(env.public_key_path), "INVORA_LOG_LEVEL": "WARNING",
                   f"{prefix}SCHEDULER_ENABLED": "false",
                   # services that store secrets encrypted need a key ring (a throwaway one for the run)
                   "INVORA_SECRETS_KEY": os.environ.get("INVORA_SECRETS_KEY") or _BENCH_SECRETS_KEY}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"{service}.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
         "--workers", str(workers)], env=environment, stdout=sys.stderr)
    try:
        wait_for_port("127.0.0.1", port, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def machine(**extra: object) -> dict[str, object]:
    """The machine a figure was made on, for every benchmark's JSON: CPUs, platform, Python, load average now."""
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2), **extra}


def percentile_ms(ordered: list[float], p: float) -> float:
    """The p-quantile (0..1) of sorted seconds, in milliseconds (-1 when there are none)."""
    if not ordered:
        return -1
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000, 3)
