"""A fake of Paystack's API (https://paystack.com/docs/api/): the endpoints the adapter calls.

Shapes follow Paystack's documentation: every answer is `{"status": bool, "message", "data"}`; amounts
are integers in the currency's subunit; a transaction `reference` is unique per integration (a second
`charge_authorization` with the same one is refused with "Duplicate Transaction Reference", Paystack's
only protection against a double charge, since it takes no idempotency key); refunds start `pending`
and are settled later, with a `refund.processed` webhook. Webhooks are signed as Paystack signs them:
`x-paystack-signature` is the hex HMAC-SHA512 of the raw body keyed with the secret key.

Cards are reusable authorizations on a customer, put there by `add_card` (as if the customer had
paid once through Paystack's checkout); their `behaviour` says how the issuer answers a charge.
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

# how the issuer answers a charge on a card: (transaction status, gateway_response)
BEHAVIOURS = {
    "ok": ("success", "Approved"),
    "insufficient_funds": ("failed", "Insufficient Funds"),
    "stolen": ("failed", "Stolen Card"),
    "needs_authentication": ("paused", "Transaction requires authentication"),
}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakePaystack(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.customers: dict[str, dict[str, Any]] = {}  # by customer_code
        self.transactions: dict[str, dict[str, Any]] = {}  # by reference
        self.refunds: dict[int, dict[str, Any]] = {}
        self.behaviours: dict[str, str] = {}  # authorization_code -> behaviour
        self.checkouts: dict[str, dict[str, Any]] = {}  # access_code -> the initialized transaction
        routes = [
            web.post("/customer", self._create_customer),
            web.get("/customer/{code}", self._get_customer),
            web.post("/customer/authorization/deactivate", self._deactivate),
            web.post("/transaction/initialize", self._initialize),
            web.post("/transaction/charge_authorization", self._charge_authorization),
            web.get("/transaction/verify/{reference}", self._verify),
            web.post("/refund", self._create_refund),
            web.get("/refund", self._list_refunds),
        ]
        self.app.add_routes(routes)

    # -- what the tests arrange and read -------------------------------------------------------------

    def add_customer(self, email: str) -> str:
        code = f"CUS_{uuid.uuid4().hex[:14]}"
        self.customers[code] = {"id": self.next_id(), "customer_code": code, "email": email, "first_name": None,
                                "last_name": None, "metadata": {}, "authorizations": [], "domain": "test",
                                "createdAt": _now(), "updatedAt": _now()}
        return code

    def add_card(self, customer_code: str, behaviour: str = "ok", last4: str = "4081") -> str:
        code = f"AUTH_{uuid.uuid4().hex[:10]}"
        self.behaviours[code] = behaviour
        self.customers[customer_code]["authorizations"].insert(0, {
            "authorization_code": code, "bin": "408408", "last4": last4, "exp_month": "12", "exp_year": "2030",
            "channel": "card", "card_type": "visa ", "bank": "TEST BANK", "country_code": "NG", "brand": "visa",
            "reusable": True, "signature": f"SIG_{uuid.uuid4().hex[:12]}", "account_name": None})
        return code

    def charges(self, customer_code: str) -> list[dict[str, Any]]:
        """The successful transactions on a customer: a double charge would show twice."""
        return [t for t in self.transactions.values()
                if t["customer"]["customer_code"] == customer_code and t["status"] == "success"]

    def signed(self, secret_key: str, event: str, data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"event": event, "data": data}).encode()
        signature = hmac.new(secret_key.encode(), body, hashlib.sha512).hexdigest()
        return body, {"content-type": "application/json", "x-paystack-signature": signature}

    def settle_refund(self, refund_id: int, status: str = "processed") -> dict[str, Any]:
        refund = self.refunds[refund_id]
        refund["status"] = status
        return refund

    def pay_checkout(self, authorization_url: str) -> dict[str, Any]:
        """The customer pays on the checkout page: a successful transaction carrying the initialized metadata."""
        checkout = self.checkouts[authorization_url.rsplit("/", 1)[-1]]
        customer = self._customer_by(checkout["email"])
        authorization_code = self.add_card(customer["customer_code"])
        authorization = customer["authorizations"][0]
        assert authorization["authorization_code"] == authorization_code
        transaction = {
            "id": self.next_id(), "domain": "test", "status": "success", "reference": checkout["reference"],
            "amount": checkout["amount"], "currency": checkout["currency"], "gateway_response": "Successful",
            "channel": "card", "metadata": checkout["metadata"], "paid_at": _now(), "transaction_date": _now(),
            "authorization": authorization, "plan": None,
            "customer": {k: customer[k] for k in ("id", "customer_code", "email", "first_name", "last_name")}}
        self.transactions[checkout["reference"]] = transaction
        return transaction

    def complete_authentication(self, reference: str) -> dict[str, Any]:
        """The customer authorized a paused charge on Paystack's page: it succeeds."""
        transaction = self.transactions[reference]
        transaction.update(status="success", gateway_response="Approved", paid_at=_now())
        return transaction

    # -- the API -------------------------------------------------------------------------------------

    @staticmethod
    def _authorized(request: web.Request) -> None:
        if not request.headers.get("Authorization", "").startswith("Bearer sk_"):
            raise web.HTTPUnauthorized(text='{"status": false, "message": "Invalid key"}',
                                       content_type="application/json")

    @staticmethod
    def _refuse(message: str, status: int = 400) -> web.Response:
        return FakeServer.reply({"status": False, "message": message}, status)

    def _customer_by(self, code_or_email: str) -> dict[str, Any] | None:
        if code_or_email in self.customers:
            return self.customers[code_or_email]
        return next((c for c in self.customers.values() if c["email"] == code_or_email), None)

    async def _create_customer(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        if not body.get("email"):
            return self._refuse("Email is required")
        customer = self._customer_by(body["email"])
        if customer is None:
            customer = self.customers[self.add_customer(body["email"])]
            customer.update(first_name=body.get("first_name"), last_name=body.get("last_name"),
                            metadata=body.get("metadata") or {})
        shown = {k: v for k, v in customer.items() if k != "authorizations"}
        return self.reply({"status": True, "message": "Customer created", "data": shown})

    async def _get_customer(self, request: web.Request) -> web.Response:
        self._authorized(request)
        customer = self._customer_by(request.match_info["code"])
        if customer is None:
            return self._refuse("Customer not found", 404)
        return self.reply({"status": True, "message": "Customer retrieved", "data": customer})

    async def _deactivate(self, request: web.Request) -> web.Response:
        self._authorized(request)
        code = (await self.body(request)).get("authorization_code")
        for customer in self.customers.values():
            for authorization in customer["authorizations"]:
                if authorization["authorization_code"] == code:
                    authorization["reusable"] = False
                    return self.reply({"status": True, "message": "Authorization has been deactivated"})
        return self._refuse("Authorization code not found", 404)

    async def _initialize(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        if not body.get("email") or not isinstance(body.get("amount"), int):
            return self._refuse("Invalid email or amount")
        reference = body.get("reference") or uuid.uuid4().hex[:15]
        access_code = uuid.uuid4().hex[:15]
        self.checkouts[access_code] = {"reference": reference, "email": body["email"], "amount": body["amount"],
                                       "currency": body.get("currency") or "NGN",
                                       "metadata": body.get("metadata") or {}}
        return self.reply({"status": True, "message": "Authorization URL created", "data": {
            "authorization_url": f"{self.url}/checkout/{access_code}", "access_code": access_code,
            "reference": reference}})

    async def _charge_authorization(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        amount, reference, code = body.get("amount"), body.get("reference"), body.get("authorization_code")
        if not isinstance(amount, int) or amount <= 0 or not body.get("email") or not code:
            return self._refuse("Invalid amount, email or authorization code")
        if reference in self.transactions:
            return self._refuse("Duplicate Transaction Reference")
        customer = self._customer_by(body["email"])
        authorization = next((a for a in (customer or {}).get("authorizations", [])
                              if a["authorization_code"] == code and a["reusable"]), None)
        if customer is None or authorization is None:
            return self._refuse("Invalid authorization code or email")
        status, gateway_response = BEHAVIOURS[self.behaviours[code]]
        reference = reference or uuid.uuid4().hex[:15]
        transaction = {
            "id": self.next_id(), "domain": "test", "status": status, "reference": reference, "amount": amount,
            "currency": body.get("currency") or "NGN", "gateway_response": gateway_response, "message": None,
            "channel": "card", "metadata": body.get("metadata") or {}, "fees": amount // 100,
            "transaction_date": _now(), "paid_at": _now() if status == "success" else None,
            "authorization": authorization, "plan": None,
            "customer": {k: customer[k] for k in ("id", "customer_code", "email", "first_name", "last_name")},
        }
        if status == "paused":
            transaction["paused"] = True
            transaction["authorization_url"] = f"{self.url}/authorize/{reference}"
        self.transactions[reference] = transaction
        return self.reply({"status": True, "message": "Charge attempted", "data": transaction})

    async def _verify(self, request: web.Request) -> web.Response:
        self._authorized(request)
        transaction = self.transactions.get(request.match_info["reference"])
        if transaction is None:
            return self._refuse("Transaction reference not found")
        return self.reply({"status": True, "message": "Verification successful", "data": transaction})

    def _transaction(self, key: Any) -> dict[str, Any] | None:
        return next((t for t in self.transactions.values() if str(t["id"]) == str(key) or t["reference"] == key), None)

    async def _create_refund(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        transaction = self._transaction(body.get("transaction"))
        if transaction is None or transaction["status"] != "success":
            return self._refuse("Transaction not found or not refundable")
        refunded = sum(r["amount"] for r in self.refunds.values()
                       if r["transaction"]["id"] == transaction["id"] and r["status"] != "failed")
        amount = body.get("amount", transaction["amount"] - refunded)
        if not isinstance(amount, int) or amount <= 0 or amount > transaction["amount"] - refunded:
            return self._refuse("Refund amount cannot be greater than transaction amount")
        refund = {"id": self.next_id(), "integration": 1, "domain": "test", "amount": amount,
                  "deducted_amount": amount, "currency": transaction["currency"], "channel": "card",
                  "fully_deducted": True, "status": "pending", "merchant_note": body.get("merchant_note"),
                  "customer_note": body.get("customer_note"), "refunded_by": "api", "expected_at": _now(),
                  "createdAt": _now(), "updatedAt": _now(),
                  "transaction": {k: transaction[k] for k in ("id", "reference", "amount", "currency", "channel")}}
        self.refunds[refund["id"]] = refund
        return self.reply({"status": True, "message": "Refund has been queued for processing", "data": refund})

    async def _list_refunds(self, request: web.Request) -> web.Response:
        self._authorized(request)
        wanted = request.query.get("transaction")
        found = [r for r in self.refunds.values()
                 if wanted is None or str(r["transaction"]["id"]) == wanted or r["transaction"]["reference"] == wanted]
        return self.reply({"status": True, "message": "Refunds retrieved", "data": found,
                           "meta": {"total": len(found), "page": 1, "pageCount": 1}})
