"""One `invora dev` run as a child process, for suite-level tests (start, inspect, stop, kill)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from invora.db.migrate import SERVICES
from invora.infra.ports import port_open

REPO_ROOT = Path(__file__).resolve().parents[3]
_NOTABLE = ("item_parked", "_error", "_failed", "replay", "rewound", "broker_replaced")
START_TIMEOUT = 60.0
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

    def kill_everything(self) -> None:
        """Last-resort cleanup when an assertion failed midway."""
        self.seen_pids.add(self.process.pid)
        for pid in self.seen_pids | {p.pid for p in self._processes_mentioning_data_dir()}:
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass
        self.process.wait(10)
