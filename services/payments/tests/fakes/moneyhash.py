"""A fake of MoneyHash's API v1.1 (https://docs.moneyhash.io): the endpoints the adapter calls.

Shapes follow MoneyHash's documentation and the answers Lago's tests record (getlago/lago-api
`spec/fixtures/moneyhash/`): `x-Api-Key` authenticates; every answer is `{"status": {"code", "message", "errors"},
"data": …}`; amounts are major units (at most two decimals); customers and card tokens are UUIDs, intents short
hash ids. A merchant-initiated intent with a `card_token` is processed at once: `PROCESSED` with an active
transaction `SUCCESSFUL`, or `UNPROCESSED` with a transaction `FAILED` whose last purchase operation carries the
decline words, or `PENDING_AUTHENTICATION` (the customer authenticates on the intent's `embed_url`). A refusal is
a 400 with `status.errors` (`{"card_token": "This field may not be null."}`). `X-Idempotency-Key` must be a v4
UUID; the same key with the same API key answers the first response (MoneyHash keeps it 24 hours; this fake for
its lifetime). Webhooks carry `MoneyHash-Signature: t=…,v1=…,v2=…,v3=…`, v3 the hex HMAC-SHA256 with the
signature key of base64(body) + t (v1 and v2 are written here as placeholders: the adapter reads v3 only).

Not verified against MoneyHash's sandbox (Lago makes none of these calls): the card-token listing (`GET
/api/v1.1/tokens/cards/?customer=`) and deletion (`DELETE /api/v1.1/tokens/cards/{id}/`), the refund call (`POST
/api/v1.1/payments/intent/{id}/refund/`, its answer being the refund operation) and the `transaction.refund.*`
webhooks' shape (taken to be the purchase ones', with the refund operation's id in `operation_id`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from decimal import Decimal
from typing import Any

from aiohttp import web

from .base import FakeServer, dumps

# how the issuer answers a merchant-initiated purchase on a card: (transaction status, code, message)
BEHAVIOURS = {
    "ok": ("SUCCESSFUL", "6000", "Successful"),
    "insufficient_funds": ("FAILED", "7001", "Insufficient funds"),
    "stolen": ("FAILED", "7004", "Stolen card, pick up"),
    "needs_authentication": ("PENDING_AUTHENTICATION", "8001", "Pending authentication"),
}


def sign(signature_key: str, body: bytes, timestamp: str) -> str:
    return hmac.new(signature_key.encode(), base64.b64encode(body) + timestamp.encode(), hashlib.sha256).hexdigest()


def _hash_id() -> str:
    return uuid.uuid4().hex[:7]


class FakeMoneyhash(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.customers: dict[str, dict[str, Any]] = {}
        self.cards: dict[str, list[dict[str, Any]]] = {}  # customer id -> card tokens, newest first
        self.behaviours: dict[str, str] = {}  # card token id -> behaviour
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}  # refund operation id -> operation (+ intent id)
        self.idempotent: dict[tuple[str, str], tuple[int, Any]] = {}  # (api key, key) -> (status, body)
        prefix = "/api/v1.1"
        self.app.add_routes([
            web.post(f"{prefix}/customers/", self._create_customer),
            web.get(f"{prefix}/tokens/cards/", self._list_cards),
            web.delete(prefix + "/tokens/cards/{token_id}/", self._delete_card),
            web.post(f"{prefix}/payments/intent/", self._create_intent),
            web.get(prefix + "/payments/intent/{intent_id}/", self._get_intent),
            web.post(prefix + "/payments/intent/{intent_id}/refund/", self._refund),
            web.get("/api/v1/organizations/get-webhook-signature-key/", self._signature_key),
        ])

    # -- what the tests arrange and read -------------------------------------------------------------

    def add_customer(self, email: str) -> str:
        customer_id = str(uuid.uuid4())
        self.customers[customer_id] = {"id": customer_id, "type": "INDIVIDUAL", "email": email, "is_live": False}
        self.cards[customer_id] = []
        return customer_id

    def add_card(self, customer_id: str, behaviour: str = "ok", last_4: str = "0000") -> str:
        token_id = str(uuid.uuid4())
        self.behaviours[token_id] = behaviour
        self.cards[customer_id].insert(0, {
            "id": token_id, "hashid": _hash_id(), "brand": "Visa", "card_holder_name": "Kevin Smith",
            "bin": "411111", "last_4": last_4, "issuer": "test", "expiry_month": "02", "expiry_year": "31",
            "country": None, "type": None, "custom_fields": {}, "requires_cvv": True, "vault_region": "default"})
        return token_id

    def charges(self, customer_id: str) -> list[dict[str, Any]]:
        """The intents that took money from the customer."""
        return [i for i in self.intents.values() if i["customer"] == customer_id and i["status"] == "PROCESSED"]

    def signed(self, signature_key: str, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(json.loads(dumps(event)), separators=(",", ":")).encode()  # MoneyHash posts compact JSON
        timestamp = str(int(time.time()))
        header = f"t={timestamp},v1={'0' * 64},v2={'0' * 64},v3={sign(signature_key, body, timestamp)}"
        return body, {"content-type": "application/json", "MoneyHash-Signature": header}

    def _intent_view(self, intent: dict[str, Any]) -> dict[str, Any]:
        """An intent as the API and `intent.*` webhooks show it (transactions inside)."""
        return {k: v for k, v in intent.items() if not k.startswith("_")}

    def intent_event(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents[intent_id]
        kind = {"PROCESSED": "intent.processed", "TIME_EXPIRED": "intent.time_expired"}[intent["status"]]
        return {"type": kind, "intent_type": "PAYMENT",
                "data": {"intent_id": intent_id, "intent": self._intent_view(intent)}, "api_version": "1.1"}

    def transaction_event(self, intent_id: str) -> dict[str, Any]:
        """`transaction.purchase.<status>` for the intent's active transaction."""
        intent = self.intents[intent_id]
        transaction = intent["active_transaction"]
        operation = transaction["operations"][-1]
        status = transaction["status"].lower()
        return {"type": f"transaction.purchase.{status}", "status_id": operation["latest_status"]["id"],
                "operation_id": operation["id"],
                "intent": {"id": intent_id, "created": intent["created"], "custom_fields": intent["custom_fields"],
                           "amount": {"value": intent["amount"], "currency": intent["amount_currency"]}},
                "account": {"id": "lgaxEBL"},
                "transaction": {"type": "payment", "id": transaction["id"], "status": f"purchase.{status}",
                                "operations": transaction["operations"],
                                "paying_card_token": transaction.get("paying_card_token")},
                "api_version": "1.1"}

    def refund_event(self, operation_id: str) -> dict[str, Any]:
        refund = self.refunds[operation_id]
        intent = self.intents[refund["intent"]]
        return {"type": f"transaction.refund.{refund['status']}", "operation_id": operation_id,
                "status_id": refund["latest_status"]["id"],
                "intent": {"id": intent["id"], "custom_fields": intent["custom_fields"],
                           "amount": {"value": intent["amount"], "currency": intent["amount_currency"]}},
                "transaction": {"type": "payment", "id": intent["active_transaction"]["id"],
                                "operations": intent["active_transaction"]["operations"]},
                "api_version": "1.1"}

    def complete_authentication(self, intent_id: str) -> dict[str, Any]:
        self._settle(self.intents[intent_id], "SUCCESSFUL", "6000", "Successful")
        return self.intents[intent_id]

    def pay_page(self, embed_url: str) -> dict[str, Any]:
        """The customer pays a customer-present intent's page with a good card."""
        intent = next(i for i in self.intents.values() if i["embed_url"] == embed_url)
        card = None
        if intent["_tokenize_card"] and intent["customer"]:  # the card is kept as a token for later MIT charges
            token_id = self.add_card(intent["customer"], "ok", last_4="4242")
            card = self.cards[intent["customer"]][0]
            assert card["id"] == token_id
        transaction = self._transaction(intent, card)
        intent["active_transaction"] = transaction
        intent["transactions_history"].append(transaction)
        self._settle(intent, "SUCCESSFUL", "6000", "Successful")
        return intent

    def settle_refund(self, operation_id: str) -> dict[str, Any]:
        refund = self.refunds[operation_id]
        refund.update(status="successful", latest_status={"id": _hash_id(), "value": "successful", "code": "6000",
                                                          "message": "Successful"})
        return refund

    @staticmethod
    def signature_key_for(api_key: str) -> str:
        """The account's webhook signature key (one per API key here)."""
        return base64.urlsafe_b64encode(hashlib.sha256(b"mh-signature:" + api_key.encode()).digest()).decode()

    # -- the API -------------------------------------------------------------------------------------

    @staticmethod
    def _answer(data: Any, status: int = 200, errors: list | None = None, message: str = "success") -> web.Response:
        return FakeServer.reply({"status": {"code": status, "message": message if status < 400 else "",
                                            "errors": errors or []},
                                 "data": data if data is not None else {}, "count": 1 if data else None,
                                 "next": None, "previous": None}, status)

    def _api_key(self, request: web.Request) -> str:
        key = request.headers.get("x-Api-Key", "")
        if not key:
            raise web.HTTPUnauthorized(text=dumps({"status": {"code": 401, "message": "",
                                                              "errors": [{"x-api-key": "Invalid API key."}]},
                                                   "data": {}}), content_type="application/json")
        return key

    async def _idempotent(self, request: web.Request, handler) -> web.Response:
        api_key = self._api_key(request)
        key = request.headers.get("X-Idempotency-Key")
        if key is not None:
            try:
                if uuid.UUID(key).version != 4:
                    raise ValueError
            except ValueError:
                return self._answer(None, 400, [{"x-idempotency-key": "Must be a valid v4 UUID."}])
            if (api_key, key) in self.idempotent:
                status, body = self.idempotent[(api_key, key)]
                return self.reply(body, status)
        response = await handler(request)
        if key is not None:
            self.idempotent[(api_key, key)] = (response.status, json.loads(response.text, parse_float=Decimal))
        return response

    async def _signature_key(self, request: web.Request) -> web.Response:
        api_key = self._api_key(request)
        if api_key.startswith("revoked"):
            return self._answer(None, 401, [{"x-api-key": "Invalid API key."}])
        return self._answer({"webhook_signature_secret": self.signature_key_for(api_key)})

    async def _create_customer(self, request: web.Request) -> web.Response:
        async def create(request: web.Request) -> web.Response:
            body = await self.body(request)
            customer_id = self.add_customer(body.get("email") or "")
            self.customers[customer_id].update({k: body.get(k) for k in ("first_name", "last_name",
                                                                         "custom_fields")})
            return self._answer(self.customers[customer_id])
        return await self._idempotent(request, create)

    async def _list_cards(self, request: web.Request) -> web.Response:
        self._api_key(request)
        customer = request.query.get("customer", "")
        if customer not in self.customers:
            return self._answer(None, 404, [{"customer": "Not found."}])
        return self._answer(self.cards[customer])

    async def _delete_card(self, request: web.Request) -> web.Response:
        self._api_key(request)
        token_id = request.match_info["token_id"]
        for customer, cards in self.cards.items():
            if any(c["id"] == token_id for c in cards):
                self.cards[customer] = [c for c in cards if c["id"] != token_id]
                return self._answer({"id": token_id, "deleted": True})
        return self._answer(None, 404, [{"card_token": "Not found."}])

    def _transaction(self, intent: dict[str, Any], card: dict[str, Any] | None) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "created": intent["created"], "status": "PENDING",
                "amount": intent["amount"], "amount_currency": intent["amount_currency"],
                "custom_fields": intent["custom_fields"], "payment_method": "CARD",
                "paying_card_token": card, "operations": [{
                    "id": _hash_id(), "type": "purchase", "status": "pending",
                    "amount": {"value": intent["amount"], "currency": intent["amount_currency"]},
                    "latest_status": {"id": _hash_id(), "value": "pending", "code": "8000", "message": "Pending"}}]}

    def _settle(self, intent: dict[str, Any], status: str, code: str, message: str) -> None:
        transaction = intent["active_transaction"]
        transaction["status"] = status
        operation = transaction["operations"][-1]
        value = {"SUCCESSFUL": "successful", "FAILED": "failed"}.get(status, "pending")
        operation.update(status=value, latest_status={"id": _hash_id(), "value": value, "code": code,
                                                      "message": message, "provider_error_code": None,
                                                      "provider_error_message": None})
        if status == "SUCCESSFUL":
            intent["status"] = "PROCESSED"
            intent["payment_status"]["status"] = "CAPTURED"

    async def _create_intent(self, request: web.Request) -> web.Response:
        return await self._idempotent(request, self._intent)

    async def _intent(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        amount, currency = body.get("amount"), body.get("amount_currency")
        errors = []
        if not isinstance(amount, Decimal | int) or amount <= 0 or Decimal(amount) != Decimal(amount).quantize(
                Decimal("0.01")):
            errors.append({"amount": "Ensure that there are no more than 2 decimal places."})
        if not currency:
            errors.append({"amount_currency": "This field is required."})
        customer = body.get("customer")
        if customer is not None and customer not in self.customers:
            errors.append({"customer": "Customer not found."})
        if body.get("merchant_initiated") and not body.get("card_token"):
            errors.append({"card_token": "This field may not be null."})
        if errors:
            return self._answer(None, 400, errors)
        intent_id = _hash_id()
        intent: dict[str, Any] = {
            "id": intent_id, "embed_url": f"{self.url}/embed/payment/{intent_id}", "status": "UNPROCESSED",
            "amount": Decimal(amount), "amount_currency": currency, "type": "Payin", "account": "lgaxEBL",
            "custom_fields": body.get("custom_fields") or {}, "billing_data": body.get("billing_data") or {},
            "active_transaction": None, "transactions_history": [], "flow": body.get("flow_id"),
            "is_live": False, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "merchant_reference": body.get("merchant_reference"), "customer": customer,
            "merchant_initiated": bool(body.get("merchant_initiated")), "webhook_url": body.get("webhook_url"),
            "payment_status": {"status": "NO_AUTHORIZE_ATTEMPTS"}, "_tokenize_card": bool(body.get("tokenize_card"))}
        self.intents[intent_id] = intent
        if body.get("merchant_initiated"):
            card = next((c for c in self.cards.get(customer, []) if c["id"] == body["card_token"]), None)
            if card is None:
                del self.intents[intent_id]
                return self._answer(None, 400, [{"card_token": "Invalid card token."}])
            transaction = self._transaction(intent, card)
            intent["active_transaction"] = transaction
            intent["transactions_history"].append(transaction)
            status, code, message = BEHAVIOURS[self.behaviours[card["id"]]]
            self._settle(intent, status, code, message)
            if status == "PENDING_AUTHENTICATION":
                transaction["status"] = "PENDING_AUTHENTICATION"
        return self._answer(self._intent_view(intent))

    async def _get_intent(self, request: web.Request) -> web.Response:
        self._api_key(request)
        intent = self.intents.get(request.match_info["intent_id"])
        if intent is None:
            return self._answer(None, 404, [{"intent": "Not found."}])
        return self._answer(self._intent_view(intent))

    async def _refund(self, request: web.Request) -> web.Response:
        async def refund(request: web.Request) -> web.Response:
            body = await self.body(request)
            intent = self.intents.get(request.match_info["intent_id"])
            if intent is None or intent["status"] != "PROCESSED":
                return self._answer(None, 400, [{"intent": "The intent has no captured payment to refund."}])
            amount = body.get("amount")
            refunded = sum(r["amount"]["value"] for r in self.refunds.values() if r["intent"] == intent["id"])
            if not isinstance(amount, Decimal | int) or amount <= 0 or Decimal(amount) > intent["amount"] - refunded:
                return self._answer(None, 400, [{"amount": "The amount exceeds the available amount to refund."}])
            operation = {"id": _hash_id(), "type": "refund", "status": "pending", "intent": intent["id"],
                         "amount": {"value": Decimal(amount), "currency": intent["amount_currency"]},
                         "custom_fields": body.get("custom_fields") or {},
                         "latest_status": {"id": _hash_id(), "value": "pending", "code": "8000", "message": "Pending"}}
            self.refunds[operation["id"]] = operation
            intent["active_transaction"]["operations"].append(operation)
            return self._answer(operation)
        return await self._idempotent(request, refund)
