"""A localstripe server (a stateful fake of Stripe's API, PyPI `localstripe`) for tests: `localstripe` fixture.

Started once per test session on a free loopback port, from scratch; its store is kept in memory
only (localstripe pickles the whole store to /tmp after every write, which makes a long run
quadratic and lets two servers on one machine overwrite each other's file). Point Stripe's SDK at
`LocalStripe.url` (the payments setting `INVORA_PAYMENTS_STRIPE_API_BASE`). localstripe accepts any
`sk_test_...` key, ignores idempotency keys (so a test counts charges at the fake to prove none was
sent twice) and signs webhooks like Stripe to URLs registered with `register_webhook`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from invora.infra.ports import free_port, wait_for_port

# localstripe's own `start()` listens on every interface and pickles its store: this launcher binds the
# loopback address only and keeps the store in memory
_LAUNCH = (
    "import socket, sys; import localstripe.resources as r; r.Store.dump_to_disk = lambda self: None; "
    "from aiohttp import web; from localstripe.server import app; "
    "sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM); "
    "sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); sock.bind(('127.0.0.1', int(sys.argv[1]))); "
    "web.run_app(app, sock=sock, access_log=None, print=None)"
)


@dataclass
class LocalStripe:
    url: str
    process: subprocess.Popen

    def register_webhook(self, name: str, url: str, secret: str, events: list[str] | None = None) -> None:
        data: dict = {"url": url, "secret": secret}
        if events:
            data["events[]"] = events
        response = httpx.post(f"{self.url}/_config/webhooks/{name}", data=data, timeout=5)
        response.raise_for_status()

    def authenticate(self, payment_intent_id: str, client_secret: str, *, success: bool = True) -> None:
        """The customer completes (or fails) 3-D Secure on a PaymentIntent that requires action."""
        response = httpx.post(f"{self.url}/v1/payment_intents/{payment_intent_id}/_authenticate", timeout=5,
                              data={"client_secret": client_secret, "success": str(success).lower(),
                                    "key": "pk_test_invora"})
        response.raise_for_status()

    def client(self, api_key: str = "sk_test_invora"):
        """A synchronous Stripe SDK client on this server (for arranging and counting in tests)."""
        import stripe

        return stripe.StripeClient(api_key, base_addresses={"api": self.url}, max_network_retries=0,
                                   http_client=stripe.HTTPXClient(timeout=10, allow_sync_methods=True))


def start_localstripe(log_file: Path | None = None) -> LocalStripe:
    port = free_port()
    log = open(log_file or Path(tempfile.mkstemp(prefix="localstripe-", suffix=".log")[1]), "ab")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-c", _LAUNCH, str(port)],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for_port("127.0.0.1", port, 20.0)
    except Exception:
        process.kill()
        raise
    return LocalStripe(url=f"http://127.0.0.1:{port}", process=process)


def stop_localstripe(server: LocalStripe) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    server = start_localstripe()
    try:
        yield server
    finally:
        stop_localstripe(server)
