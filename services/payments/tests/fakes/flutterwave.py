"""A fake of Flutterwave's v3 API (https://developer.flutterwave.com/v3.0/reference): the endpoints the adapter calls.

Shapes follow Flutterwave's documentation: answers are `{"status": "success"|"error", "message", "data"}`;
amounts are JSON numbers in major units (checked here: more decimals than the currency has are
refused); a transaction's `tx_ref` is unique (a second tokenized charge with it is refused), and
`GET /transactions/verify_by_reference` finds it. A card token comes from a successful card payment
(`add_card` stands for the customer's payment through Flutterwave's checkout) and is read from
`GET /transactions/{id}/verify` (`data.card.token`). Refunds answer `completed` at once. Webhooks carry
`verif-hash`, the secret hash the merchant set in the dashboard, in clear.

Chargebacks (`chargeback`) follow v3's chargeback object (`GET /v3/chargebacks`: `id`, `amount`, `flw_ref`,
`status` initiated/accepted/declined/lost/won, `stage` new/second/pre-arbitration/arbitration, `comment`,
`transaction_id`, `tx_ref`); the name of the webhook event that carries one (`chargeback.<status>` here) is not
verified against Flutterwave's sandbox (the adapter also knows a chargeback by its fields).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from invora.money import exponent

from .base import FakeServer, dumps

# how the issuer answers a tokenized charge: (status, processor_response)
BEHAVIOURS = {
    "ok": ("successful", "Approved"),
    "insufficient_funds": ("failed", "Insufficient funds"),
    "stolen": ("failed", "Stolen card, pick up"),
    "needs_authentication": ("pending", "Pending validation"),
}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeFlutterwave(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.transactions: dict[int, dict[str, Any]] = {}
        self.refunds: dict[int, dict[str, Any]] = {}
        self.links: dict[str, dict[str, Any]] = {}  # hosted checkout link -> the request that made it
        self.behaviours: dict[str, str] = {}  # token -> behaviour
        self.app.add_routes([
            web.post("/payments", self._payment_link),
            web.get("/transactions", self._list_transactions),
            web.get("/transactions/verify_by_reference", self._verify_by_reference),
            web.get("/transactions/{id}/verify", self._verify),
            web.post("/tokenized-charges", self._tokenized_charge),
            web.post("/transactions/{id}/refund", self._refund),
            web.get("/refunds", self._list_refunds),
        ])

    # -- what the tests arrange and read -------------------------------------------------------------

    def add_card(self, email: str, behaviour: str = "ok", last4: str = "2643", currency: str = "EUR") -> int:
        """A successful card payment through the checkout, which tokenized the card; its transaction id."""
        token = f"flw-t1nf-{uuid.uuid4().hex}-m03k"
        self.behaviours[token] = behaviour
        transaction = self._transaction(email, amount=Decimal(1), currency=currency,
                                        tx_ref=f"checkout-{uuid.uuid4().hex}", status="successful",
                                        processor_response="Approved", token=token, last4=last4)
        transaction["checkout"] = True
        return transaction["id"]

    def charges(self, email: str) -> list[dict[str, Any]]:
        """The successful tokenized charges on a customer: a double charge would show twice."""
        return [t for t in self.transactions.values()
                if t["customer"]["email"] == email and t["status"] == "successful" and not t.get("checkout")]

    def signed(self, secret_hash: str, event: str, data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = dumps({"event": event, "data": data, "event.type": "CARD_TRANSACTION"}).encode()
        return body, {"content-type": "application/json", "verif-hash": secret_hash}

    def complete_authentication(self, tx_ref: str) -> dict[str, Any]:
        transaction = next(t for t in self.transactions.values() if t["tx_ref"] == tx_ref)
        transaction.update(status="successful", processor_response="Approved")
        transaction["meta"].pop("authorization", None)
        return transaction

    def pay_checkout(self, link: str) -> dict[str, Any]:
        """The customer pays a hosted checkout link with a card; the successful transaction (its webhook's data)."""
        page = self.links[link]
        token = f"flw-t1nf-{uuid.uuid4().hex}-m03k"
        self.behaviours[token] = "ok"  # the card paid with is tokenized: later `tokenized-charges` may use it
        transaction = self._transaction(page["customer"]["email"], amount=Decimal(page["amount"]),
                                        currency=page["currency"], tx_ref=page["tx_ref"], status="successful",
                                        processor_response="Approved", token=token, last4="4242",
                                        meta=page.get("meta"))
        return self._shown(transaction)

    def chargeback(self, transaction_id: int, status: str, stage: str = "new") -> dict[str, Any]:
        transaction = self.transactions[transaction_id]
        return {"id": 2000 + transaction_id % 1000, "amount": transaction["amount"], "flw_ref": transaction["flw_ref"],
                "status": status, "stage": stage, "comment": "Product/service not received",
                "meta": {"uploaded_proof": None, "history": []}, "due_date": _now(), "settlement_id": "N/A",
                "created_at": _now(), "transaction_id": transaction_id, "tx_ref": transaction["tx_ref"]}

    # -- the API -------------------------------------------------------------------------------------

    def _transaction(self, email: str, *, amount: Decimal, currency: str, tx_ref: str, status: str,
                     processor_response: str, token: str, last4: str, meta: dict | None = None) -> dict[str, Any]:
        transaction_id = self.next_id()
        transaction = {
            "id": transaction_id, "tx_ref": tx_ref, "flw_ref": f"FLW-MOCK-{uuid.uuid4().hex[:10]}",
            "device_fingerprint": "N/A", "amount": amount, "currency": currency, "charged_amount": amount,
            "app_fee": Decimal("0"), "merchant_fee": Decimal("0"), "processor_response": processor_response,
            "auth_model": "noauth", "ip": "127.0.0.1", "narration": "invora", "status": status,
            "payment_type": "card", "created_at": _now(), "account_id": 1, "meta": dict(meta or {}),
            "card": {"first_6digits": "553188", "last_4digits": last4, "issuer": "MASTERCARD TEST", "country": "NG",
                     "type": "MASTERCARD", "token": token, "expiry": "09/32"},
            "customer": {"id": transaction_id, "name": "Customer", "phone_number": None, "email": email,
                         "created_at": _now()},
        }
        self.transactions[transaction_id] = transaction
        return transaction

    @staticmethod
    def _authorized(request: web.Request) -> None:
        if not request.headers.get("Authorization", "").startswith("Bearer FLWSECK"):
            raise web.HTTPUnauthorized(text='{"status": "error", "message": "Invalid authorization key", "data": null}',
                                       content_type="application/json")

    @staticmethod
    def _refuse(message: str, status: int = 400, data: Any = None) -> web.Response:
        return FakeServer.reply({"status": "error", "message": message, "data": data}, status)

    @staticmethod
    def _amount(value: Any, currency: str) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return None
        amount = Decimal(value)
        if amount <= 0 or amount != amount.quantize(Decimal(1).scaleb(-exponent(currency))):
            return None
        return amount

    async def _payment_link(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        if not body.get("tx_ref") or not (body.get("customer") or {}).get("email"):
            return self._refuse("tx_ref and customer.email are required")
        amount, currency = body.get("amount"), body.get("currency")
        if not isinstance(amount, Decimal | int) or amount <= 0 or not currency or \
                Decimal(amount) != Decimal(amount).quantize(Decimal(1).scaleb(-exponent(currency))):
            return self._refuse("amount and currency are required (at most the currency's decimals)")
        link = f"{self.url}/checkout/{uuid.uuid4().hex[:12]}"
        self.links[link] = body
        return self.reply({"status": "success", "message": "Hosted Link", "data": {"link": link}})

    def _by_id(self, value: str) -> dict[str, Any] | None:
        return self.transactions.get(int(value)) if value.isdigit() else None

    @staticmethod
    def _shown(transaction: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in transaction.items() if k != "checkout"}

    async def _list_transactions(self, request: web.Request) -> web.Response:
        self._authorized(request)
        email, status = request.query.get("customer_email"), request.query.get("status")
        found = [self._shown(t) for t in reversed(self.transactions.values())
                 if (email is None or t["customer"]["email"] == email) and (status is None or t["status"] == status)]
        for transaction in found:  # the list does not show tokens; verify does
            transaction["card"] = {k: v for k, v in transaction["card"].items() if k != "token"}
        return self.reply({"status": "success", "message": "Transactions fetched", "data": found,
                           "meta": {"page_info": {"total": len(found), "current_page": 1, "total_pages": 1}}})

    async def _verify(self, request: web.Request) -> web.Response:
        self._authorized(request)
        transaction = self._by_id(request.match_info["id"])
        if transaction is None:
            return self._refuse("No transaction was found for this id")
        return self.reply({"status": "success", "message": "Transaction fetched successfully",
                           "data": self._shown(transaction)})

    async def _verify_by_reference(self, request: web.Request) -> web.Response:
        self._authorized(request)
        tx_ref = request.query.get("tx_ref")
        transaction = next((t for t in self.transactions.values() if t["tx_ref"] == tx_ref), None)
        if transaction is None:
            return self._refuse("No transaction was found for this id")
        return self.reply({"status": "success", "message": "Transaction fetched successfully",
                           "data": self._shown(transaction)})

    async def _tokenized_charge(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        token, currency, email, tx_ref = body.get("token"), body.get("currency"), body.get("email"), body.get("tx_ref")
        if not token or not currency or not email or not tx_ref:
            return self._refuse("token, currency, email and tx_ref are required")
        amount = self._amount(body.get("amount"), currency)
        if amount is None:
            return self._refuse("Invalid amount")
        if any(t["tx_ref"] == tx_ref for t in self.transactions.values()):
            return self._refuse("Duplicate transaction reference")
        behaviour = self.behaviours.get(token)
        if behaviour is None:
            return self._refuse("Token not found")
        status, processor_response = BEHAVIOURS[behaviour]
        meta = dict(body.get("meta") or {})
        if status == "pending":
            meta["authorization"] = {"mode": "redirect", "redirect": f"{self.url}/authorize/{tx_ref}"}
        card = next(t["card"] for t in self.transactions.values() if t["card"]["token"] == token)
        transaction = self._transaction(email, amount=amount, currency=currency, tx_ref=tx_ref, status=status,
                                        processor_response=processor_response, token=token,
                                        last4=card["last_4digits"], meta=meta)
        if status == "failed":
            return self._refuse(processor_response, 400, self._shown(transaction))
        return self.reply({"status": "success", "message": "Charge successful" if status == "successful"
                           else "Charge initiated", "data": self._shown(transaction)})

    async def _refund(self, request: web.Request) -> web.Response:
        self._authorized(request)
        transaction = self._by_id(request.match_info["id"])
        if transaction is None or transaction["status"] != "successful":
            return self._refuse("Transaction not found or not refundable")
        body = await self.body(request)
        refunded = sum(r["amount_refunded"] for r in self.refunds.values() if r["tx_id"] == transaction["id"])
        amount = self._amount(body.get("amount", transaction["amount"] - refunded), transaction["currency"])
        if amount is None or amount > transaction["amount"] - refunded:
            return self._refuse("Refund amount is greater than the transaction amount")
        refund = {"id": self.next_id(), "account_id": 1, "tx_id": transaction["id"],
                  "flw_ref": f"URF_{uuid.uuid4().hex[:12]}", "wallet_id": 1, "amount_refunded": amount,
                  "status": "completed", "destination": "payment_source", "comments": body.get("comments"),
                  "meta": {"source": "availablebalance"}, "created_at": _now()}
        self.refunds[refund["id"]] = refund
        return self.reply({"status": "success", "message": "Transaction refund initiated", "data": refund})

    async def _list_refunds(self, request: web.Request) -> web.Response:
        self._authorized(request)
        wanted = request.query.get("id")
        found = [r for r in self.refunds.values() if wanted is None or str(r["tx_id"]) == wanted]
        return self.reply({"status": "success", "message": "Refunds fetched", "data": found,
                           "meta": {"page_info": {"total": len(found), "current_page": 1, "total_pages": 1}}})


def load(body: bytes) -> dict[str, Any]:
    return json.loads(body, parse_float=Decimal)
