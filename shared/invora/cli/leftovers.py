"""Pid files for the processes `invora dev` starts, so a supervisor that was killed outright
does not leave a broker or a service holding its port for the next start.

(PostgreSQL needs none of this: EmbeddedPostgres stops a stale server from its own
postmaster.pid.)
"""

from __future__ import annotations

import json
from pathlib import Path

import psutil


def record(run_dir: Path, name: str, pid: int) -> None:
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return
    (run_dir / f"{name}.pid").write_text(json.dumps({"pid": pid, "create_time": created}))


def forget(run_dir: Path, name: str) -> None:
    (run_dir / f"{name}.pid").unlink(missing_ok=True)


def kill_recorded(run_dir: Path) -> list[str]:
    """Kill every recorded process that is still the same process (pid + start time, so a
    reused pid is left alone). Returns the names of those killed."""
    killed: list[str] = []
    for pid_file in sorted(run_dir.glob("*.pid")):
        try:
            entry = json.loads(pid_file.read_text())
            process = psutil.Process(int(entry["pid"]))
            if abs(process.create_time() - float(entry["create_time"])) < 0.01:
                process.kill()
                process.wait(5)
                killed.append(pid_file.stem)
        except (ValueError, KeyError, json.JSONDecodeError, psutil.Error):
            pass
        pid_file.unlink(missing_ok=True)
    return killed
