"""A light Stripe fake for `payments.py`: the part of Stripe's API the charger's Stripe adapter uses for an
off-session charge, answering each PaymentIntent after a fixed latency, and counting.

    python bench/_stripe_fake.py PORT LATENCY_MS

localstripe (one Python process that re-serialises its whole store on every request) spends more CPU per
charge than the charger does, so at 200 ms with it underneath the benchmark measured localstripe. This
server is a real HTTP server on loopback that the unchanged `StripeAdapter` (official SDK, aiohttp) talks
to, like any Stripe base URL:

- `GET /v1/customers/{id}`: the customer, its default payment method `pm_<id>` (the adapter asks for it
  before every charge, as against Stripe);
- `POST /v1/payment_intents` (form-encoded, `Idempotency-Key` header): waits LATENCY_MS, then answers a
  `succeeded` PaymentIntent; a second request with a key already seen answers the first PaymentIntent again
  (Stripe's idempotency), and a charge of another payment method than the default is declined;
- `GET /v1/payment_intents` (the adapter's look-up by reference; `search` answers 400 as localstripe does);
- `GET /_counts`: every PaymentIntent created, per `metadata[invora_invoice_id]` and per
  `metadata[invora_reference]`, and calls per idempotency key. A second PaymentIntent for one invoice is a
  double charge, whatever the idempotency keys said.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

from aiohttp import web


class Fake:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.intents: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.calls_per_key: dict[str, int] = {}
        self.per_invoice: dict[str, int] = {}
        self.per_reference: dict[str, int] = {}
        self.in_flight = self.most_in_flight = 0  # PaymentIntent requests being answered at once (the bound's check)

    async def customer(self, request: web.Request) -> web.Response:
        customer_id = request.match_info["id"]
        return web.json_response({"id": customer_id, "object": "customer", "email": None, "metadata": {},
                                  "invoice_settings": {"default_payment_method": f"pm_{customer_id}"}})

    async def create_intent(self, request: web.Request) -> web.Response:
        form = await request.post()
        key = request.headers.get("Idempotency-Key")
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        if key is not None:
            self.calls_per_key[key] = self.calls_per_key.get(key, 0) + 1
            if key in self.by_key:
                return web.json_response(self.intents[self.by_key[key]])
        customer = form.get("customer")
        metadata = {k[len("metadata["):-1]: v for k, v in form.items() if k.startswith("metadata[")}
        if form.get("payment_method") != f"pm_{customer}":
            return web.json_response({"error": {"type": "card_error", "code": "card_declined",
                                                "decline_code": "generic_decline",
                                                "message": "not the customer's default payment method"}},
                                     status=402)
        intent_id = f"pi_{uuid.uuid4().hex[:24]}"
        intent = {"id": intent_id, "object": "payment_intent", "amount": int(form["amount"]),
                  "currency": form.get("currency"), "customer": customer, "payment_method": form.get("payment_method"),
                  "status": "succeeded", "metadata": metadata, "created": int(time.time()), "livemode": False,
                  "last_payment_error": None, "next_action": None}
        self.intents[intent_id] = intent
        if key is not None:
            self.by_key[key] = intent_id
        invoice = metadata.get("invora_invoice_id", "")
        self.per_invoice[invoice] = self.per_invoice.get(invoice, 0) + 1
        reference = metadata.get("invora_reference", "")
        self.per_reference[reference] = self.per_reference.get(reference, 0) + 1
        return web.json_response(intent)

    async def list_intents(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "url": "/v1/payment_intents", "has_more": False,
                                  "data": sorted(self.intents.values(), key=lambda i: i["created"], reverse=True)})

    async def retrieve_intent(self, request: web.Request) -> web.Response:
        intent = self.intents.get(request.match_info["id"])
        if intent is None:
            return web.json_response({"error": {"type": "invalid_request_error", "message": "no such intent"}},
                                     status=404)
        return web.json_response(intent)

    async def search(self, request: web.Request) -> web.Response:
        return web.json_response({"error": {"type": "invalid_request_error", "message": "search not supported"}},
                                 status=400)

    async def counts(self, request: web.Request) -> web.Response:
        return web.json_response({"per_invoice": self.per_invoice, "per_reference": self.per_reference,
                                  "calls_per_key": self.calls_per_key,
                                  "most_in_flight": self.most_in_flight})


def main() -> None:
    port, latency_ms = int(sys.argv[1]), float(sys.argv[2])
    fake = Fake(latency_ms / 1000)
    app = web.Application()
    app.router.add_get("/v1/customers/{id}", fake.customer)
    app.router.add_get("/v1/payment_intents/search", fake.search)
    app.router.add_post("/v1/payment_intents", fake.create_intent)
    app.router.add_get("/v1/payment_intents", fake.list_intents)
    app.router.add_get("/v1/payment_intents/{id}", fake.retrieve_intent)
    app.router.add_get("/_counts", fake.counts)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=1024)


if __name__ == "__main__":
    main()
