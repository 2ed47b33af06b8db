"""Caddy as a child process, with its configuration written to a file beside its log."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from invora.gateway.binary import caddy_command
from invora.gateway.caddy import render


def write_config(config: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(render(config))
    partial.replace(path)
    return path


def caddy_environment(home: Path) -> dict[str, str]:
    """Caddy keeps certificates and autosaved configuration under XDG folders: give it its own."""
    return {**os.environ, "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}


def wait_until_healthy(url: str, process: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    # /health waits up to HEALTH_TIMEOUT for each service that accepts but does not answer: a read
    # timeout at or below that never sees the gateway's answer while one service is silent
    with httpx.Client(timeout=httpx.Timeout(15.0, connect=2.0)) as client:
        while True:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"caddy exited with code {process.returncode}")
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway at {url} did not answer /health within {timeout:.0f}s")
            time.sleep(0.05)


@contextlib.contextmanager
def run_caddy(config: Mapping[str, Any], directory: Path, url: str) -> Iterator[subprocess.Popen]:
    """Caddy with `config` until the block exits (tests, benchmarks); its log is `directory/caddy.log`."""
    config_file = write_config(config, directory / "caddy.json")
    with open(directory / "caddy.log", "wb") as log:
        process = subprocess.Popen(caddy_command(config_file), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=caddy_environment(directory))
    try:
        wait_until_healthy(url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
