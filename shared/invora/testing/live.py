"""A service served over real HTTP (uvicorn on a loopback port, in a thread of this process).

For clients that cannot use an ASGI transport: Lago's official client libraries, fuzzers,
anything speaking plain HTTP.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from invora.infra.ports import free_port
from invora.testing.infrastructure import KeyPair
from invora.testing.services import service_settings


@contextlib.contextmanager
def serve(app, host: str = "127.0.0.1", port: int | None = None, timeout: float = 30.0) -> Iterator[str]:
    """Run `app` with uvicorn (lifespan included) until the block exits; yields its base URL."""
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


@pytest.fixture
def live_service(migrated_database, invora_kafka: str, invora_keys: KeyPair):
    """Factory: `live_service("catalog")` → base URL of the service served over loopback HTTP."""
    import importlib

    with contextlib.ExitStack() as stack:

        def start(service: str, **overrides) -> str:
            settings = service_settings(
                service, database_url=migrated_database(service), kafka=invora_kafka, keys=invora_keys, **overrides
            )
            app = importlib.import_module(f"{service}.app").create_app(settings)
            return stack.enter_context(serve(app))

        yield start
