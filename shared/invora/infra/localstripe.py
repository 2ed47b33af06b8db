"""A localstripe server (the Stripe fake, `invora.infra.localstripe_server`) as a child process: started by
`invora dev` (when no `INVORA_PAYMENTS_STRIPE_API_BASE` is given) and by the test harness.

Its store is in memory: a restart loses every Stripe object (customers, cards, PaymentIntents). It
accepts any `sk_test_...` key, ignores idempotency keys (so a test counts charges at the fake to prove
none was sent twice) and signs webhooks like Stripe to the URLs registered with `register_webhook`.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from invora.infra.ports import free_port, wait_for_port

STRIPE_API_BASE_ENV = "INVORA_PAYMENTS_STRIPE_API_BASE"


def available() -> bool:
    """localstripe is a development dependency: an installation without it runs no Stripe fake."""
    return importlib.util.find_spec("localstripe") is not None


@dataclass
class LocalStripe:
    url: str
    process: subprocess.Popen | None = None  # None: a server another process started (`invora dev`'s)

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

    def complete_checkout(self, session_id: str, card: str, api_key: str = "sk_test_invora") -> dict:
        """The customer finishes a Checkout Session's hosted page with a test card."""
        response = httpx.post(f"{self.url}/v1/checkout/sessions/{session_id}/_complete", data={"card": card},
                              auth=(api_key, ""), timeout=5)
        response.raise_for_status()
        return response.json()

    def open_dispute(self, charge_id: str, reason: str = "fraudulent", api_key: str = "sk_test_invora") -> dict:
        """The cardholder disputes a charge (`charge.dispute.created` follows)."""
        response = httpx.post(f"{self.url}/v1/charges/{charge_id}/_dispute", data={"reason": reason},
                              auth=(api_key, ""), timeout=5)
        response.raise_for_status()
        return response.json()

    def close_dispute(self, dispute_id: str, status: str, api_key: str = "sk_test_invora") -> dict:
        """The bank decides (`won` or `lost`; `charge.dispute.closed` follows)."""
        response = httpx.post(f"{self.url}/v1/disputes/{dispute_id}/_close", data={"status": status},
                              auth=(api_key, ""), timeout=5)
        response.raise_for_status()
        return response.json()

    def client(self, api_key: str = "sk_test_invora"):
        """A synchronous Stripe SDK client on this server (for arranging and counting in tests)."""
        import stripe

        return stripe.StripeClient(api_key, base_addresses={"api": self.url}, max_network_retries=0,
                                   http_client=stripe.HTTPXClient(timeout=10, allow_sync_methods=True))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def start_localstripe(log_file: Path | None = None, port: int | None = None, host: str = "127.0.0.1",
                      timeout: float = 20.0, own_session: bool = False) -> LocalStripe:
    """`own_session`: out of the caller's process group (`invora dev`: the terminal's Ctrl-C reaches only the
    supervisor, which stops its children in order)."""
    port = port or free_port()
    log = open(log_file or Path(tempfile.mkstemp(prefix="localstripe-", suffix=".log")[1]), "ab")  # noqa: SIM115
    with log:
        process = subprocess.Popen([sys.executable, "-m", "invora.infra.localstripe_server", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=own_session)
    try:
        wait_for_port(host, port, timeout)
    except Exception:
        process.kill()
        process.wait()
        raise
    return LocalStripe(url=f"http://{host}:{port}", process=process)


def stop_localstripe(server: LocalStripe) -> None:
    if server.process is None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
