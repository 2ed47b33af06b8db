"""A fake of GoCardless's API (https://developer.gocardless.com/api-reference), as the official SDK calls it.

Shapes follow GoCardless's documentation: bodies are enveloped by resource (`{"payments": {...}}`), lists
carry `meta.cursors`; errors are `{"error": {"type", "code", "message", "errors": [{"reason"|"field",
"message"}]}}`; a create repeated with the same `Idempotency-Key` is answered 409
`idempotent_creation_conflict` with `links.conflicting_resource_id` (the SDK then reads that resource),
which is GoCardless's protection against a double charge; a payment starts `pending_submission` and
is settled later (`settle`, which also returns the webhook GoCardless would send); a refund needs
`total_amount_confirmation`. Webhooks batch events under `events` and carry `Webhook-Signature`, the
hex HMAC-SHA256 of the body with the endpoint's secret.

A billing request with a `payment_request` and its flow (`POST /billing_requests`, `POST /billing_request_flows`)
is a hosted payment (Instant Bank Pay): `pay_flow` stands for the customer paying there, which makes a confirmed
payment carrying the request's metadata; its event brings that metadata back in `resource_metadata` (GoCardless's
events carry their resource's metadata; not verified against GoCardless's sandbox).

Mandates are what a customer authorised through GoCardless's hosted flow (`add_mandate`); their
`behaviour` says what the payer's bank does with a payment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .base import FakeServer

# what the payer's bank does with a payment on the mandate: (final status, cause, description)
BEHAVIOURS = {
    "ok": ("confirmed", "payment_confirmed", "Enough time has passed since the payment was submitted."),
    "insufficient_funds": ("failed", "insufficient_funds", "The customer's account had insufficient funds."),
    "stolen": ("failed", "bank_account_closed", "The customer's bank account was closed."),
}


def _id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:12].upper()


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeGoCardless(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.customers: dict[str, dict[str, Any]] = {}
        self.mandates: dict[str, dict[str, Any]] = {}
        self.bank_accounts: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.behaviours: dict[str, str] = {}  # mandate -> behaviour
        self.billing_requests: dict[str, dict[str, Any]] = {}
        self.flows: dict[str, dict[str, Any]] = {}  # authorisation_url -> flow
        self.keys: dict[tuple[str, str], str] = {}  # (resource, Idempotency-Key) -> the created resource's id
        self.app.add_routes([
            web.post("/customers", self._create_customer),
            web.get("/mandates", self._list_mandates),
            web.post("/mandates/{id}/actions/cancel", self._cancel_mandate),
            web.get("/customer_bank_accounts/{id}", self._get_bank_account),
            web.post("/payments", self._create_payment),
            web.get("/payments/{id}", self._get_payment),
            web.post("/refunds", self._create_refund),
            web.get("/refunds", self._list_refunds),
            web.get("/refunds/{id}", self._get_refund),
            web.get("/customers/{id}", self._get_customer),
            web.post("/billing_requests", self._create_billing_request),
            web.post("/billing_request_flows", self._create_flow),
        ])

    # -- what the tests arrange and read -------------------------------------------------------------

    def add_customer(self, email: str) -> str:
        customer = {"id": _id("CU"), "email": email, "given_name": "A", "family_name": "Customer",
                    "metadata": {}, "created_at": _now()}
        self.customers[customer["id"]] = customer
        return customer["id"]

    def add_mandate(self, customer_id: str, behaviour: str = "ok") -> str:
        account = {"id": _id("BA"), "account_number_ending": "11", "account_holder_name": "A CUSTOMER",
                   "bank_name": "TEST BANK", "currency": "EUR", "country_code": "FR", "enabled": True,
                   "links": {"customer": customer_id}, "created_at": _now(), "metadata": {}}
        self.bank_accounts[account["id"]] = account
        mandate = {"id": _id("MD"), "status": "active", "scheme": "sepa_core", "reference": _id("REF-"),
                   "created_at": _now(), "metadata": {}, "next_possible_charge_date": "2026-12-07",
                   "links": {"customer": customer_id, "customer_bank_account": account["id"], "creditor": "CR1"}}
        self.mandates[mandate["id"]] = mandate
        self.behaviours[mandate["id"]] = behaviour
        return mandate["id"]

    def charges(self, customer_id: str) -> list[dict[str, Any]]:
        """Payments that take (or took) money from the customer: a double charge would show twice."""
        return [p for p in self.payments.values()
                if (p["links"].get("customer") or self.mandates[p["links"]["mandate"]]["links"]["customer"]) ==
                customer_id and p["status"] not in {"failed", "cancelled", "customer_approval_denied"}]

    def pay_flow(self, authorisation_url: str) -> dict[str, Any]:
        """The customer completes a billing request's flow: for a `mandate_request`, a mandate is set up (its
        `mandates.created` event); for a `payment_request` (Instant Bank Pay), a confirmed payment and its event."""
        request = self.billing_requests[self.flows[authorisation_url]["links"]["billing_request"]]
        asked = request["payment_request"]
        if asked is None:  # a mandate request only
            mandate_id = self.add_mandate(request["links"]["customer"], "ok")
            self.mandates[mandate_id]["status"] = "pending_submission"
            request.update(status="fulfilled", mandate_request={**request["mandate_request"],
                                                                "links": {"mandate": mandate_id}})
            return self.event("mandates", "created", mandate_id, "mandate_created", "Mandate created via the API.")
        payment = {"id": _id("PM"), "created_at": _now(), "charge_date": "2026-12-02", "amount": asked["amount"],
                   "amount_refunded": 0, "currency": asked["currency"], "status": "confirmed",
                   "description": asked.get("description"), "reference": None, "metadata": asked.get("metadata") or {},
                   "links": {"billing_request": request["id"], "customer": request["links"]["customer"],
                             "creditor": "CR1"}}
        self.payments[payment["id"]] = payment
        request["status"] = "fulfilled"
        event = self.event("payments", "confirmed", payment["id"], "payment_confirmed", "The payment was confirmed.")
        event["resource_metadata"] = payment["metadata"]
        return event

    def signed(self, secret: str, events: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"events": events, "meta": {"webhook_id": _id("WB")}}).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return body, {"content-type": "application/json", "webhook-signature": signature}

    def settle(self, payment_id: str) -> list[dict[str, Any]]:
        """The bank answers: the payment is submitted, then confirmed or failed; the events GoCardless sends."""
        payment = self.payments[payment_id]
        status, cause, description = BEHAVIOURS[self.behaviours[payment["links"]["mandate"]]]
        payment["status"] = status
        return [self.event("payments", "submitted", payment_id, "payment_submitted", "Submitted to the banks."),
                self.event("payments", status, payment_id, cause, description)]

    def settle_refund(self, refund_id: str) -> list[dict[str, Any]]:
        refund = self.refunds[refund_id]
        refund["status"] = "paid"
        return [self.event("refunds", "paid", refund_id, "refund_paid", "The refund has been paid.",
                           payment=refund["links"]["payment"])]

    @staticmethod
    def event(resource: str, action: str, resource_id: str, cause: str, description: str,
              **links: str) -> dict[str, Any]:
        return {"id": _id("EV"), "created_at": _now(), "resource_type": resource, "action": action,
                "links": {resource.rstrip("s"): resource_id, **links}, "metadata": {},
                "details": {"origin": "bank" if action == "failed" else "gocardless", "cause": cause,
                            "description": description, "scheme": "sepa_core"}}

    # -- the API -------------------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, error_type: str, message: str, errors: list[dict[str, Any]]) -> web.Response:
        return FakeServer.reply({"error": {"type": error_type, "code": status, "message": message, "errors": errors,
                                           "documentation_url": "https://developer.gocardless.com/api-reference",
                                           "request_id": uuid.uuid4().hex}}, status)

    def _authorized(self, request: web.Request) -> web.Response | None:
        if not request.headers.get("Authorization", "").startswith("Bearer ") or \
                not request.headers.get("GoCardless-Version"):
            return self._error(401, "invalid_api_usage", "Access token not found", [
                {"reason": "access_token_not_found", "message": "Access token not found"}])
        return None

    def _replayed(self, resource: str, request: web.Request) -> web.Response | None:
        existing = self.keys.get((resource, request.headers.get("Idempotency-Key", "")))
        if existing is None:
            return None
        return self._error(409, "invalid_state", "A resource has already been created with this idempotency key", [
            {"reason": "idempotent_creation_conflict", "links": {"conflicting_resource_id": existing},
             "message": "A resource has already been created with this idempotency key"}])

    def _remember(self, resource: str, request: web.Request, resource_id: str) -> None:
        if request.headers.get("Idempotency-Key"):
            self.keys[(resource, request.headers["Idempotency-Key"])] = resource_id

    @staticmethod
    def _page(resource: str, records: list[dict[str, Any]]) -> web.Response:
        return FakeServer.reply({resource: records, "meta": {"cursors": {"before": None, "after": None},
                                                             "limit": 100}})

    async def _create_customer(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request) or self._replayed("customers", request)) is not None:
            return refused
        body = (await self.body(request)).get("customers") or {}
        customer_id = self.add_customer(body.get("email"))
        self.customers[customer_id].update({k: v for k, v in body.items() if k in {"given_name", "family_name",
                                                                                    "metadata"}})
        self._remember("customers", request, customer_id)
        return self.reply({"customers": self.customers[customer_id]}, 201)

    async def _list_mandates(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        customer = request.query.get("customer")
        return self._page("mandates", [m for m in self.mandates.values()
                                       if customer is None or m["links"]["customer"] == customer])

    async def _cancel_mandate(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        mandate = self.mandates.get(request.match_info["id"])
        if mandate is None:
            return self._error(404, "invalid_api_usage", "Resource not found", [
                {"reason": "resource_not_found", "message": "Resource not found"}])
        mandate["status"] = "cancelled"
        return self.reply({"mandates": mandate})

    async def _get_bank_account(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        return self.reply({"customer_bank_accounts": self.bank_accounts[request.match_info["id"]]})

    async def _create_billing_request(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        body = (await self.body(request)).get("billing_requests") or {}
        customer = (body.get("links") or {}).get("customer")
        asked = body.get("payment_request")
        if customer not in self.customers or (asked is None and body.get("mandate_request") is None):
            return self._error(422, "validation_failed", "Validation failed", [
                {"field": "links", "message": "a customer and a payment or mandate request are required"}])
        if asked is not None and (not isinstance(asked.get("amount"), int) or asked["amount"] <= 0
                                  or len(asked.get("metadata") or {}) > 3):
            return self._error(422, "validation_failed", "Validation failed", [
                {"field": "payment_request", "message": "a positive integer amount, at most three metadata keys"}])
        billing_request = {"id": _id("BRQ"), "status": "pending", "created_at": _now(), "payment_request": asked,
                           "mandate_request": body.get("mandate_request"), "links": {"customer": customer}}
        self.billing_requests[billing_request["id"]] = billing_request
        return self.reply({"billing_requests": billing_request}, 201)

    async def _create_flow(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        body = (await self.body(request)).get("billing_request_flows") or {}
        if (body.get("links") or {}).get("billing_request") not in self.billing_requests:
            return self._error(422, "validation_failed", "Validation failed", [
                {"field": "links", "message": "billing_request not found"}])
        flow = {"id": _id("BRF"), "authorisation_url": f"{self.url}/flows/{uuid.uuid4().hex[:12]}",
                "redirect_uri": body.get("redirect_uri"), "links": body["links"], "created_at": _now()}
        self.flows[flow["authorisation_url"]] = flow
        return self.reply({"billing_request_flows": flow}, 201)

    async def _create_payment(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request) or self._replayed("payments", request)) is not None:
            return refused
        body = (await self.body(request)).get("payments") or {}
        amount, currency = body.get("amount"), body.get("currency")
        if not isinstance(amount, int) or amount <= 0 or currency not in {"EUR", "GBP", "USD", "SEK", "DKK", "AUD",
                                                                          "NZD", "CAD"}:
            return self._error(422, "validation_failed", "Validation failed", [
                {"field": "amount", "message": "must be a positive integer in a supported currency",
                 "request_pointer": "/payments/amount"}])
        mandate = self.mandates.get((body.get("links") or {}).get("mandate") or "")
        if mandate is None or mandate["status"] not in {"pending_customer_approval", "pending_submission",
                                                        "submitted", "active"}:
            return self._error(422, "invalid_state", "Mandate is inactive", [
                {"reason": "mandate_is_inactive", "message": "The mandate is cancelled or failed"}])
        payment = {"id": _id("PM"), "created_at": _now(), "charge_date": "2026-12-07", "amount": amount,
                   "amount_refunded": 0, "currency": currency, "status": "pending_submission",
                   "description": body.get("description"), "reference": None, "metadata": body.get("metadata") or {},
                   "retry_if_possible": True, "links": {"mandate": mandate["id"], "creditor": "CR1"}}
        self.payments[payment["id"]] = payment
        self._remember("payments", request, payment["id"])
        return self.reply({"payments": payment}, 201)

    async def _get_payment(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        payment = self.payments.get(request.match_info["id"])
        if payment is None:
            return self._error(404, "invalid_api_usage", "Resource not found", [
                {"reason": "resource_not_found", "message": "Resource not found"}])
        return self.reply({"payments": payment})

    async def _create_refund(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request) or self._replayed("refunds", request)) is not None:
            return refused
        body = (await self.body(request)).get("refunds") or {}
        payment = self.payments.get((body.get("links") or {}).get("payment") or "")
        if payment is None or payment["status"] not in {"confirmed", "paid_out"}:
            return self._error(422, "invalid_state", "Payment cannot be refunded", [
                {"reason": "refund_payment_invalid_state", "message": "The payment is not confirmed"}])
        amount, total = body.get("amount"), body.get("total_amount_confirmation")
        if not isinstance(amount, int) or amount <= 0 or total != payment["amount_refunded"] + amount:
            return self._error(422, "invalid_state", "Total amount confirmation invalid", [
                {"reason": "total_amount_confirmation_invalid", "message": "does not match the refunds"}])
        if total > payment["amount"]:
            return self._error(422, "invalid_state", "Refund amount too high", [
                {"reason": "number_of_refunds_exceeded", "message": "more than the payment"}])
        payment["amount_refunded"] = total
        refund = {"id": _id("RF"), "created_at": _now(), "amount": amount, "currency": payment["currency"],
                  "status": "created", "reference": None, "metadata": body.get("metadata") or {},
                  "links": {"payment": payment["id"], "mandate": payment["links"]["mandate"]}}
        self.refunds[refund["id"]] = refund
        self._remember("refunds", request, refund["id"])
        return self.reply({"refunds": refund}, 201)

    async def _list_refunds(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        wanted = request.query.get("payment")
        return self._page("refunds", [r for r in self.refunds.values()
                                      if wanted is None or r["links"]["payment"] == wanted])

    async def _get_refund(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        return self.reply({"refunds": self.refunds[request.match_info["id"]]})

    async def _get_customer(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        return self.reply({"customers": self.customers[request.match_info["id"]]})
