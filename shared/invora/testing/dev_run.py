"""One `invora dev` run as a child process, for suite-level tests (start, inspect, stop, kill)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from invora.cli.leftovers import kill_recorded
from invora.db.migrate import SERVICES
from invora.infra.ports import port_open

REPO_ROOT = Path(__file__).resolve().parents[3]
KEEP_DATA_ENV = "INVORA_KEEP_DEV_DATA"  # set (to anything): `dev_data_dir` keeps the directory, to read its logs
_NOTABLE = ("item_parked", "_error", "_failed", "replay", "rewound", "broker_replaced")
START_TIMEOUT = 120.0  # a loaded machine (a CI run, a fault-injection rig) starts slower
STOP_TIMEOUT = 30.0


def ephemeral_port_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


@dataclass(frozen=True)
class DevPorts:
    postgres: int
    kafka: int
    base: int
    stripe: int = 0  # localstripe (0: `invora dev`'s default port)

    @property
    def gateway(self) -> int:
        return self.base - 1

    @classmethod
    def pick(cls) -> DevPorts:
        """Free ports below the ephemeral range: a port the kernel handed out for a moment
        (free_port) can be taken by any outgoing connection before the second start binds it."""
        rng = random.Random()
        wanted = 4 + len(SERVICES)
        while True:
            first = rng.randrange(15000, ephemeral_port_floor() - wanted)
            block = list(range(first, first + wanted))
            if not any(port_open("127.0.0.1", port) for port in block):
                # the gateway takes block[2]; the services follow block[3]
                return cls(postgres=block[0], kafka=block[1], base=block[3], stripe=block[-1])

    def all(self) -> list[int]:
        ports = [self.postgres, self.kafka, self.gateway, *range(self.base, self.base + len(SERVICES))]
        return [*ports, self.stripe] if self.stripe else ports


class DevRun:
    """One `invora dev` process and everything it starts."""

    def __init__(self, data_dir: Path, ports: DevPorts, output: Path) -> None:
        self.data_dir, self.ports, self.output = data_dir, ports, output
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "INVORA_PAYMENTS_STRIPE_API_BASE")}
        with open(output, "wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "invora.cli", "dev", "--data-dir", str(data_dir),
                    "--pg-port", str(ports.postgres), "--kafka-port", str(ports.kafka),
                    "--base-port", str(ports.base), *(["--stripe-port", str(ports.stripe)] if ports.stripe else []),
                ],
                cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.seen_pids: set[int] = set()

    def diagnostics(self) -> str:
        """The suite's output and, per log, its parking/error lines and its last lines."""
        parts = [f"--- invora dev output ---\n{self.output.read_text(errors='replace')}"]
        for log in [*sorted((self.data_dir / "logs").glob("*.log")), self.data_dir / "postgres" / "server.log"]:
            if not log.exists():
                continue
            lines = log.read_text(errors="replace").splitlines()
            # what a loop set aside or failed on says more than the last requests do
            notable = [line for line in lines if any(word in line for word in _NOTABLE)][-40:]
            tail = "\n".join([*notable, "…", *lines[-15:]] if notable else lines[-15:])
            parts.append(f"--- {log.name} ---\n{tail}")
        return "\n".join(parts)

    def wait_for_dev_json(self) -> dict:
        dev_json = self.data_dir / "dev.json"
        deadline = time.monotonic() + START_TIMEOUT
        while not dev_json.exists():
            assert self.process.poll() is None, f"invora dev exited early\n{self.diagnostics()}"
            assert time.monotonic() < deadline, f"no dev.json after {START_TIMEOUT}s\n{self.diagnostics()}"
            time.sleep(0.2)
        return json.loads(dev_json.read_text())

    def record_processes(self) -> None:
        """Everything started on our behalf: the supervisor's descendants, plus the PostgreSQL
        server, which pg_ctl detaches from it."""
        self.seen_pids.add(self.process.pid)
        self.seen_pids.update(p.pid for p in psutil.Process(self.process.pid).children(recursive=True))
        self.seen_pids.update(p.pid for p in self._processes_mentioning_data_dir())
        assert len(self.seen_pids) >= 1 + len(SERVICES) + 3, self.seen_pids

    def _processes_mentioning_data_dir(self) -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["cmdline"]):
            if any(str(self.data_dir) in part for part in process.info["cmdline"] or ()):
                found.append(process)
        return found

    def survivors(self) -> list[str]:
        alive = []
        for pid in self.seen_pids | {p.pid for p in self._processes_mentioning_data_dir()}:
            try:
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{pid} {' '.join(process.cmdline())}")
            except psutil.NoSuchProcess:
                pass
        return alive

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            message = f"invora dev still running {STOP_TIMEOUT}s after SIGTERM\n{self.diagnostics()}"
            raise AssertionError(message) from None

    # -- fault injection (chaos tests) ----------------------------------------------------------
    def recorded_pid(self, name: str) -> int:
        """The pid the supervisor recorded for a supervised process (`kafka`, a service name)."""
        return json.loads((self.data_dir / "run" / f"{name}.pid").read_text())["pid"]

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])

    def restarted(self, pid_of, old: int) -> bool:  # noqa: ANN001 - a callable returning the current pid
        """Whether the process `pid_of()` names is a new, live one (not `old`)."""
        try:
            pid = pid_of()
        except (OSError, ValueError, KeyError):
            return False
        return pid != old and psutil.pid_exists(pid)

    async def until(self, predicate, timeout: float, what: str) -> None:  # noqa: ANN001 - a blocking check
        """Polls `predicate` (run in a thread) until true; fails with the run's diagnostics after `timeout`."""
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(predicate):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.diagnostics()}")
            await asyncio.sleep(0.3)

    async def kill_and_recover(self, target: str, summary: dict) -> float:
        """SIGKILLs `target`: `kafka` (it comes back empty, with a new cluster id), `postgres` (the postmaster:
        crash recovery on the same data) or a service (its process group: requests in flight fail). Waits
        until the supervisor has restarted it and every service is ready again; returns how long that took."""
        killed_at = time.monotonic()
        if target == "postgres":
            pid_of = self.postmaster_pid
            old = pid_of()
            os.kill(old, signal.SIGKILL)
        else:
            def pid_of() -> int:
                return self.recorded_pid(target)
            old = pid_of()
            if target == "kafka":
                os.kill(old, signal.SIGKILL)
            else:
                os.killpg(old, signal.SIGKILL)
        await self.until(lambda: self.restarted(pid_of, old), 60, f"{target} to be restarted")
        await self.until(lambda: self.all_ready(summary), 60, f"every service ready after {target} was killed")
        return time.monotonic() - killed_at

    @staticmethod
    def all_ready(summary: dict) -> bool:
        """Every service of the run answers 200 on `/ready`."""
        with httpx.Client(timeout=2.0) as client:
            for url in summary["services"].values():
                try:
                    if client.get(f"{url}/ready").status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
        return True

    def kill_everything(self) -> None:
        """Last-resort cleanup when an assertion failed midway: the supervisor, everything it runs now (a
        process it restarted is not among the pids seen at start, and an in-memory broker or the Stripe fake
        names no data directory) and every pid it recorded."""
        self.seen_pids.add(self.process.pid)
        with contextlib.suppress(psutil.Error):
            self.seen_pids.update(p.pid for p in psutil.Process(self.process.pid).children(recursive=True))
        kill_recorded(self.data_dir / "run")  # the supervisor's own pid files (checked against start times)
        for pid in self.seen_pids | {p.pid for p in self._processes_mentioning_data_dir()}:
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass
        self.process.wait(10)


@pytest.fixture
def dev_data_dir() -> Iterator[Path]:
    """A data directory for one `invora dev` run, removed afterwards (kept when INVORA_KEEP_DEV_DATA is set).
    Outside tmp_path on purpose: as root, PostgreSQL runs as another user, and every new pytest session
    resets /tmp/pytest-of-<user> to 0700, locking that user out mid-test."""
    directory = Path(tempfile.mkdtemp(prefix="invora-dev-"))
    yield directory / "data"
    if not os.environ.get(KEEP_DATA_ENV):
        shutil.rmtree(directory, ignore_errors=True)
