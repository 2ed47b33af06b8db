"""One service run by `invora dev` as a uvicorn child process."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: if the supervisor is killed outright (SIGKILL, OOM),
    the kernel sends the child SIGTERM instead of leaving it running."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (AttributeError, OSError):  # not Linux: pid files catch leftovers on the next start
        pass


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: Mapping[str, str]
    log_file: Path
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", f"{self.name}.app:create_app", "--factory",
            "--host", self.host, "--port", str(self.port), "--no-access-log",
        ]

    def start(self, *, append_log: bool = False) -> None:
        """`append_log`: a restart keeps what the process that died wrote (its last words)."""
        with open(self.log_file, "ab" if append_log else "wb") as log:
            # Own session: the terminal's Ctrl-C reaches only the supervisor, which then
            # stops the children once and in order. preexec_fn is safe here: the supervisor
            # runs no threads.
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=dict(self.env), start_new_session=True, preexec_fn=_die_with_parent,
            )

    def exit_code(self) -> int | None:
        """None while running."""
        return self.process.poll() if self.process else None

    def is_ready(self, client: httpx.Client) -> bool:
        try:
            return client.get(f"{self.url}/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def signal_group(self, signum: int) -> None:
        # the whole process group, so anything the service spawned goes too
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def stop_all(services: list[ServiceProcess], grace_seconds: float = 10.0) -> None:
    """SIGTERM every service at once (they shut down in parallel), SIGKILL what is left after
    the grace period."""
    started = [s for s in services if s.process is not None]
    for service in started:
        service.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for service in started:
        assert service.process is not None
        try:
            service.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for service in started:
        assert service.process is not None
        if service.process.poll() is None:
            service.signal_group(signal.SIGKILL)
            service.process.wait()
        # group members other than the leader (if any) must not outlive it
        service.signal_group(signal.SIGKILL)
