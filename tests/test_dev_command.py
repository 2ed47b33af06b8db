"""`invora dev` end to end: real PostgreSQL, Kafka and the six services as child processes,
started on free ports in a temporary data directory, then stopped with SIGTERM."""

from __future__ import annotations

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
import jwt
import psutil
import pytest

from invora.db.migrate import SERVICES
from invora.infra.ports import port_open

REPO_ROOT = Path(__file__).resolve().parents[1]
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

    @property
    def gateway(self) -> int:
        return self.base - 1

    @classmethod
    def pick(cls) -> DevPorts:
        """Free ports below the ephemeral range: a port the kernel handed out for a moment
        (free_port) can be taken by any outgoing connection before the second start binds it."""
        rng = random.Random()
        wanted = 3 + len(SERVICES)
        while True:
            first = rng.randrange(15000, ephemeral_port_floor() - wanted)
            block = list(range(first, first + wanted))
            if not any(port_open("127.0.0.1", port) for port in block):
                return cls(postgres=block[0], kafka=block[1], base=block[3])  # the gateway takes block[2]

    def all(self) -> list[int]:
        return [self.postgres, self.kafka, self.gateway, *range(self.base, self.base + len(SERVICES))]


class DevRun:
    """One `invora dev` process and everything it starts."""

    def __init__(self, data_dir: Path, ports: DevPorts, output: Path) -> None:
        self.data_dir, self.ports, self.output = data_dir, ports, output
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
        with open(output, "wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "invora.cli", "dev", "--data-dir", str(data_dir),
                    "--pg-port", str(ports.postgres), "--kafka-port", str(ports.kafka),
                    "--base-port", str(ports.base),
                ],
                cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.seen_pids: set[int] = set()

    def diagnostics(self) -> str:
        parts = [f"--- invora dev output ---\n{self.output.read_text(errors='replace')}"]
        for log in [*sorted((self.data_dir / "logs").glob("*.log")), self.data_dir / "postgres" / "server.log"]:
            if not log.exists():
                continue
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
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


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invora.cli", *args], check=False, cwd=REPO_ROOT, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=30,
    )


def verify_key(token: str, data_dir: Path) -> dict:
    public_pem = (data_dir / "keys" / "public.pem").read_bytes()
    return jwt.decode(token, public_pem, algorithms=["EdDSA", "RS256"], issuer="invora")


def assert_all_up(summary: dict, ports: DevPorts) -> None:
    expected = {service: f"http://127.0.0.1:{ports.base + i}" for i, service in enumerate(SERVICES)}
    assert summary["services"] == expected
    with httpx.Client(timeout=5.0) as client:
        for service, url in expected.items():
            assert client.get(f"{url}/ready").status_code == 200, service
            assert client.get(f"{url}/health").status_code == 200, service
        assert summary["api_url"] == f"http://127.0.0.1:{ports.gateway}"
        health = client.get(f"{summary['api_url']}/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        assert set(health.json()["services"]) == set(SERVICES)


def assert_services_reach_each_other(summary: dict) -> None:
    """A subscription pins a plan version read from the catalog over HTTP: that works out of the box,
    both asked through the one origin."""
    headers = {"Authorization": f"Bearer {summary['api_key']}"}
    catalog = subscriptions = summary["api_url"]
    with httpx.Client(timeout=10.0, headers=headers) as client:
        plan = client.post(f"{catalog}/api/v1/plans", json={"plan": {
            "name": "Dev", "code": "dev_plan", "interval": "monthly", "amount_cents": 1000,
            "amount_currency": "EUR"}})
        assert plan.status_code == 200, plan.text
        created = client.post(f"{subscriptions}/api/v1/subscriptions", json={"subscription": {
            "external_customer_id": "dev_customer", "plan_code": "dev_plan", "external_id": "dev_sub"}})
        assert created.status_code == 200, created.text
        assert created.json()["subscription"]["plan_code"] == "dev_plan"


def assert_one_origin_printed_first(run: DevRun, summary: dict) -> None:
    deadline = time.monotonic() + 10
    while "admin API key" not in (text := run.output.read_text(errors="replace")):
        assert time.monotonic() < deadline, run.diagnostics()
        time.sleep(0.1)
    table = text.split("ready in", 1)[1].splitlines()
    addresses = [line for line in table if "http://" in line]
    assert summary["api_url"] in addresses[0] and "one origin" in addresses[0], addresses[:3]


def stop_and_assert_clean(run: DevRun) -> None:
    assert run.terminate() == 0, run.diagnostics()
    assert run.survivors() == []
    busy = [port for port in run.ports.all() if port_open("127.0.0.1", port)]
    assert busy == [], f"ports still listening: {busy}"
    assert not (run.data_dir / "dev.json").exists()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Outside tmp_path on purpose: as root, PostgreSQL runs as another user, and every new
    pytest session resets /tmp/pytest-of-<user> to 0700, locking that user out mid-test."""
    directory = Path(tempfile.mkdtemp(prefix="invora-dev-test-"))
    yield directory / "data"
    shutil.rmtree(directory, ignore_errors=True)


def test_dev_runs_the_suite_and_stops_cleanly(tmp_path: Path, data_dir: Path) -> None:
    ports = DevPorts.pick()

    first = DevRun(data_dir, ports, tmp_path / "first.out")
    try:
        summary = first.wait_for_dev_json()
        first.record_processes()
        assert_all_up(summary, ports)
        assert summary["kafka"] == f"127.0.0.1:{ports.kafka}"
        assert_services_reach_each_other(summary)
        assert_one_origin_printed_first(first, summary)

        claims = verify_key(summary["api_key"], data_dir)
        assert claims["org"] == summary["organization_id"]
        assert claims["roles"] == ["admin"]
        assert "exp" not in claims

        created = run_cli(
            "keys", "create", "--data-dir", str(data_dir), "--org", summary["organization_id"],
            "--role", "billing_admin", "--expires", "1h",
        )
        assert created.returncode == 0, created.stderr
        key_claims = verify_key(created.stdout.strip(), data_dir)
        assert key_claims["org"] == summary["organization_id"]
        assert key_claims["roles"] == ["billing_admin"]

        stop_and_assert_clean(first)
    finally:
        if first.process.poll() is None:
            first.kill_everything()

    second = DevRun(data_dir, ports, tmp_path / "second.out")
    try:
        again = second.wait_for_dev_json()
        second.record_processes()
        assert again["organization_id"] == summary["organization_id"]
        assert_all_up(again, ports)
        stop_and_assert_clean(second)
    finally:
        if second.process.poll() is None:
            second.kill_everything()


def test_keys_create_rejects_bad_input(tmp_path: Path) -> None:
    from invora.auth.keys import ensure_key_pair

    private, _ = ensure_key_pair(tmp_path / "keys")
    org = "0b7c6d1e-8a52-4f8e-9d0e-4d1c1f6f8a11"
    for args in (["--org", "not-a-uuid", "--role", "admin"], ["--org", org, "--role", "root"],
                 ["--org", org, "--role", "tenant"], ["--org", org, "--role", "admin", "--expires", "yesterday"]):
        result = run_cli("keys", "create", "--private-key", str(private), *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stdout == ""
