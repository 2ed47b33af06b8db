"""The files `invora dev` keeps under its data directory (`./.invora` by default).

```
.invora/
  postgres/        PostgreSQL data directory (its server log is postgres/server.log)
  keys/            private.pem + public.pem that API keys are signed and verified with
  secrets.keys     the key ring secrets at rest are encrypted with (INVORA_SECRETS_KEY), current first
  logs/            <service>.log, kafka.log and gateway.log
  gateway/         caddy.json (generated at each start) and Caddy's own state
  run/             pid files of the processes the supervisor started
  org_id           the dev organization id, generated once
  dev.json         connection details; present only while `invora dev` is up
  dev.lock         held by the running supervisor
```
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR_ENV = "INVORA_DEV_DATA_DIR"
DEFAULT_DATA_DIR = Path(".invora")


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


class DataDirInUse(RuntimeError):
    pass


@dataclass(frozen=True)
class DevFiles:
    root: Path

    @classmethod
    def at(cls, data_dir: Path | None = None) -> DevFiles:
        return cls((data_dir or default_data_dir()).expanduser().resolve())

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def private_key(self) -> Path:
        return self.keys_dir / "private.pem"

    @property
    def public_key(self) -> Path:
        return self.keys_dir / "public.pem"

    @property
    def secrets_keys(self) -> Path:
        return self.root / "secrets.keys"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def dev_json(self) -> Path:
        return self.root / "dev.json"

    @property
    def org_id_file(self) -> Path:
        return self.root / "org_id"

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def create_dirs(self) -> None:
        for directory in (self.root, self.keys_dir, self.logs_dir, self.run_dir):
            directory.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def exclusive_lock(self) -> Iterator[None]:
        """Held for the supervisor's lifetime: a second `invora dev` on the same data dir would
        otherwise treat the first one's PostgreSQL as stale and stop it."""
        with open(self.root / "dev.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataDirInUse(f"another `invora dev` is already running on {self.root}") from None
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield

    # -- the dev organization ------------------------------------------------------------------
    def organization_id(self) -> uuid.UUID:
        """The dev organization, created on first start and reused afterwards so the data in
        PostgreSQL and the keys minted earlier keep pointing at the same organization."""
        known = self.known_organization_id()
        if known is None:
            known = uuid.uuid4()
        self.org_id_file.write_text(f"{known}\n")
        return known

    def known_organization_id(self) -> uuid.UUID | None:
        candidates: list[Any] = []
        if self.org_id_file.exists():
            candidates.append(self.org_id_file.read_text().strip())
        candidates.append(self.read_dev_json().get("organization_id"))
        for candidate in candidates:
            try:
                return uuid.UUID(str(candidate))
            except ValueError:
                continue
        return None

    # -- dev.json ------------------------------------------------------------------------------
    def read_dev_json(self) -> dict[str, Any]:
        try:
            return json.loads(self.dev_json.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def write_dev_json(self, content: dict[str, Any]) -> None:
        # written whole then renamed: readers polling for the file never see half of it
        partial = self.dev_json.with_suffix(".json.tmp")
        partial.write_text(json.dumps(content, indent=2) + "\n")
        partial.chmod(0o600)  # it holds an admin key
        partial.replace(self.dev_json)

    def remove_dev_json(self) -> None:
        self.dev_json.unlink(missing_ok=True)
