"""localstripe (PyPI `localstripe`, a stateful fake of Stripe's API) as `invora dev` and the tests run it:
`python -m invora.infra.localstripe_server PORT`.

localstripe's own `start()` listens on every interface and pickles its whole store to /tmp after every
write (quadratic over a long run, and two servers on one machine overwrite each other's file): this
entry point binds the loopback address only and keeps the store in memory.

It also adds two parts of Stripe's API that localstripe lacks, following Stripe's documented objects:

- **Checkout Sessions** (`POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`), in `payment`
  mode (one price, `payment_intent_data.metadata` carried to the PaymentIntent) and `setup` mode (a
  payment method for a customer). `POST /v1/checkout/sessions/{id}/_complete` (`card`: a test card
  number) stands for the customer finishing the hosted page: a payment-mode session confirms a
  PaymentIntent with that card (its usual `payment_intent.*` webhooks follow), a setup-mode one
  attaches the card to the customer and makes it the default; both then send `checkout.session.completed`.
- **Disputes** (`GET /v1/disputes/{id}`): `POST /v1/charges/{id}/_dispute` stands for the cardholder
  disputing a charge (`charge.dispute.created`), `POST /v1/disputes/{id}/_close` (`status`: `won` or
  `lost`) for the bank's decision (`charge.dispute.closed`).
"""

from __future__ import annotations

import socket
import sys

from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.webhooks import schedule_webhook


class CheckoutSession(resources.StripeObject):
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(self, mode=None, customer=None, success_url=None, cancel_url=None, currency=None,
                 line_items=None, payment_intent_data=None, metadata=None, client_reference_id=None,
                 payment_method_types=None, expires_at=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        amount = None
        try:
            assert mode in ("payment", "setup")
            assert isinstance(success_url, str) and success_url.startswith("http")
            if customer is not None:
                assert isinstance(customer, str) and customer.startswith("cus_")
            if mode == "payment":
                assert isinstance(line_items, list) and len(line_items) == 1
                price = line_items[0]["price_data"]
                amount = int(price["unit_amount"]) * int(line_items[0].get("quantity", 1))
                currency = price["currency"]
                assert amount > 0
            else:
                assert isinstance(currency, str) and currency
        except (AssertionError, KeyError, TypeError, ValueError):
            raise UserError(400, "Bad request") from None
        if customer:
            resources.Customer._api_retrieve(customer)
        super().__init__()
        self.mode = mode
        self.customer = customer
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.currency = currency
        self.amount_total = amount
        self.metadata = metadata or {}
        self.client_reference_id = client_reference_id
        self.payment_intent = None
        self.setup_intent = None
        self.status = "open"
        self.payment_status = "unpaid" if mode == "payment" else "no_payment_required"
        self.url = f"https://checkout.stripe.com/c/pay/{self.id}"
        self.expires_at = expires_at
        self._payment_intent_metadata = (payment_intent_data or {}).get("metadata") or {}

    @classmethod
    def _api_complete(cls, id, card=None, **kwargs):
        if kwargs or not isinstance(card, str):
            raise UserError(400, "Bad request")
        session = cls._api_retrieve(id)
        if session.status != "open":
            raise UserError(400, "This Checkout Session is no longer open.")
        customer = session.customer
        if customer is None:
            customer = resources.Customer._api_create().id
            session.customer = customer
        method = resources.PaymentMethod._api_create(type="card", card={
            "number": card, "exp_month": "12", "exp_year": "2034", "cvc": "123"})
        resources.PaymentMethod._api_attach(method.id, customer=customer)
        if session.mode == "setup":
            resources.Customer._api_update(customer, invoice_settings={"default_payment_method": method.id})
        else:
            intent = resources.PaymentIntent._api_create(
                amount=session.amount_total, currency=session.currency, customer=customer,
                payment_method=method.id, metadata=dict(session._payment_intent_metadata))
            session.payment_intent = intent.id
            try:
                intent._confirm(on_failure_now=intent._report_async_failure)
            except UserError:
                pass  # a declined card: the page would ask for another one; the session stays open
            if intent.status != "succeeded":
                return session
            session.payment_status = "paid"
        session.status = "complete"
        schedule_webhook(resources.Event("checkout.session.completed", session))
        return session


class Dispute(resources.StripeObject):
    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge: resources.Charge, reason: str = "fraudulent") -> None:
        super().__init__()
        self.charge = charge.id
        self.payment_intent = getattr(charge, "payment_intent", None)
        self.amount = charge.amount
        self.currency = charge.currency
        self.reason = reason
        self.status = "needs_response"
        self.metadata = {}

    @classmethod
    def _api_open(cls, id, reason="fraudulent", **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        charge = resources.Charge._api_retrieve(id)
        if charge.status != "succeeded":
            raise UserError(400, "Only a succeeded charge can be disputed.")
        dispute = cls(charge, reason)
        schedule_webhook(resources.Event("charge.dispute.created", dispute))
        return dispute

    @classmethod
    def _api_close(cls, id, status=None, **kwargs):
        if kwargs or status not in ("won", "lost"):
            raise UserError(400, "Bad request")
        dispute = cls._api_retrieve(id)
        dispute.status = status
        schedule_webhook(resources.Event("charge.dispute.closed", dispute))
        return dispute


def _install() -> None:
    resources.Store.dump_to_disk = lambda self: None
    router = server.app.router
    router.add_route("POST", "/v1/checkout/sessions/{id}/_complete",
                     server.api_extra(CheckoutSession._api_complete, "/v1/checkout/sessions/{id}/_complete"))
    router.add_route("POST", "/v1/checkout/sessions", server.api_create(CheckoutSession, "/v1/checkout/sessions"))
    router.add_route("GET", "/v1/checkout/sessions/{id}",
                     server.api_retrieve(CheckoutSession, "/v1/checkout/sessions/{id}"))
    router.add_route("POST", "/v1/charges/{id}/_dispute", server.api_extra(Dispute._api_open, "/v1/charges/{id}"))
    router.add_route("POST", "/v1/disputes/{id}/_close", server.api_extra(Dispute._api_close, "/v1/disputes/{id}"))
    router.add_route("GET", "/v1/disputes/{id}", server.api_retrieve(Dispute, "/v1/disputes/{id}"))


def main(port: int) -> None:
    from aiohttp import web

    _install()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    web.run_app(server.app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
