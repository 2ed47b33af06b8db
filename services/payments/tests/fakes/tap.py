"""A fake of Tap Payments' API v2 (https://developers.tap.company/reference): the endpoints the adapter calls.

Shapes follow Tap's documentation: `Authorization: Bearer sk_…`; amounts are decimal numbers in major units (KWD has
three decimals); customers `cus_…`, saved cards `card_…` listed newest first by `GET /v2/card/{customer}`, tokens
for a saved card (`POST /v2/tokens` with `saved_card`), charges `chg_…` (`CAPTURED`, `DECLINED` with
`response.code`/`message`, `INITIATED` with `transaction.url` when the issuer wants the customer), refunds `re_…`
starting `PENDING` (read back by `GET /v2/refunds/{id}`), a saved card removed by `DELETE
/v2/card/{customer_id}/{card_id}` (`{"id", "deleted": true}`). `reference.idempotent` makes a charge or refund
request idempotent: the same string answers the first result, as Tap documents (for 24 hours; this fake keeps it for
its lifetime). A merchant-initiated charge (`customer_initiated: false`) needs the card's payment agreement (Tap's
error 1216 otherwise). Webhooks carry `hashstring`: the hex HMAC-SHA256, keyed with the secret key, of
`x_id…x_amount…x_currency…x_gateway_reference…x_payment_reference…x_status…x_created…`.

Not verified against Tap's sandbox: that a saved card's listing carries its `payment_agreement.id` (the adapter
reads it there), the exact refund statuses, and the signed fields of a refund's webhook (taken to be a
charge's).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from decimal import Decimal
from typing import Any

from aiohttp import web

from invora.money import exponent

from .base import FakeServer, dumps

# how the issuer answers a charge on a card: (status, response code, response message)
BEHAVIOURS = {
    "ok": ("CAPTURED", "000", "Captured"),
    "insufficient_funds": ("DECLINED", "051", "Insufficient Funds"),
    "stolen": ("DECLINED", "043", "Stolen Card"),
    "needs_authentication": ("INITIATED", "100", "Initiated"),
}


def _hashstring(secret_key: str, obj: dict[str, Any]) -> str:
    places = exponent(obj["currency"])
    text = (f"x_id{obj['id']}x_amount{Decimal(str(obj['amount'])):.{places}f}x_currency{obj['currency']}"
            f"x_gateway_reference{obj.get('reference', {}).get('gateway') or ''}"
            f"x_payment_reference{obj.get('reference', {}).get('payment') or ''}"
            f"x_status{obj['status']}"
            f"x_created{(obj.get('transaction') or {}).get('created') or obj.get('created') or ''}")
    return hmac.new(secret_key.encode(), text.encode(), hashlib.sha256).hexdigest()


class FakeTap(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.customers: dict[str, dict[str, Any]] = {}
        self.cards: dict[str, list[dict[str, Any]]] = {}  # customer id -> cards, newest first
        self.behaviours: dict[str, str] = {}  # card id -> behaviour
        self.tokens: dict[str, dict[str, Any]] = {}
        self.charges_by_id: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[tuple[str, str], dict[str, Any]] = {}  # (kind, idempotent string) -> first answer
        self.app.add_routes([
            web.post("/customers", self._create_customer),
            web.get("/card/{customer}", self._list_cards),
            web.post("/tokens", self._create_token),
            web.post("/charges", self._create_charge),
            web.get("/charges/{charge_id}", self._get_charge),
            web.post("/refunds", self._create_refund),
            web.get("/refunds/{refund_id}", self._get_refund),
            web.delete("/card/{customer}/{card}", self._delete_card),
        ])

    # -- what the tests arrange and read -------------------------------------------------------------

    def add_customer(self, email: str) -> str:
        customer_id = f"cus_TS{uuid.uuid4().hex[:20]}"
        self.customers[customer_id] = {"id": customer_id, "object": "customer", "email": email, "first_name": "x"}
        self.cards[customer_id] = []
        return customer_id

    def add_card(self, customer_id: str, behaviour: str = "ok", last_four: str = "1111") -> str:
        card_id = f"card_{uuid.uuid4().hex[:20]}"
        self.behaviours[card_id] = behaviour
        self.cards[customer_id].insert(0, {
            "id": card_id, "object": "card", "customer": customer_id, "brand": "VISA", "scheme": "VISA",
            "first_six": "411111", "last_four": last_four, "exp_month": 12, "exp_year": 2030,
            "payment_agreement": {"id": f"payment_agreement_{uuid.uuid4().hex[:16]}",
                                  "contract": {"id": card_id, "type": "UNSCHEDULED"}}})
        return card_id

    def charges(self, customer_id: str) -> list[dict[str, Any]]:
        return [c for c in self.charges_by_id.values()
                if c["customer"]["id"] == customer_id and c["status"] == "CAPTURED"]

    def signed(self, secret_key: str, obj: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        return dumps(obj).encode(), {"content-type": "application/json", "hashstring": _hashstring(secret_key, obj)}

    def complete_authentication(self, charge_id: str) -> dict[str, Any]:
        charge = self.charges_by_id[charge_id]
        charge.update(status="CAPTURED", response={"code": "000", "message": "Captured"})
        return charge

    def settle_refund(self, refund_id: str) -> dict[str, Any]:
        self.refunds[refund_id]["status"] = "REFUNDED"
        return self.refunds[refund_id]

    def pay_page(self, url: str) -> dict[str, Any]:
        """The customer pays a hosted charge's page with a good card (saved on the customer when the charge asked)."""
        charge = next(c for c in self.charges_by_id.values() if (c.get("transaction") or {}).get("url") == url)
        charge.update(status="CAPTURED", response={"code": "000", "message": "Captured"})
        if charge.get("save_card"):  # Tap saves the card paid with on the customer (`save_card: true`)
            card_id = self.add_card(charge["customer"]["id"], "ok", last_four="4242")
            charge["card"] = {k: self.cards[charge["customer"]["id"]][0][k]
                              for k in ("id", "object", "first_six", "last_four", "brand")}
            assert charge["card"]["id"] == card_id
        return charge

    # -- the API -------------------------------------------------------------------------------------

    @staticmethod
    def _error(code: str, description: str, status: int = 400) -> web.Response:
        return FakeServer.reply({"errors": [{"code": code, "description": description}]}, status)

    def _authorized(self, request: web.Request) -> None:
        if not request.headers.get("Authorization", "").startswith("Bearer sk_"):
            raise web.HTTPUnauthorized(text='{"errors": [{"code": "2107", "description": "Invalid API key"}]}',
                                       content_type="application/json")

    async def _create_customer(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        if not body.get("first_name"):
            return self._error("1102", "first_name is required")
        customer_id = self.add_customer(body.get("email") or "")
        self.customers[customer_id].update(first_name=body["first_name"], metadata=body.get("metadata") or {})
        return self.reply(self.customers[customer_id])

    async def _list_cards(self, request: web.Request) -> web.Response:
        self._authorized(request)
        customer = request.match_info["customer"]
        if customer not in self.customers:
            return self._error("1117", "Customer not found", 404)
        return self.reply({"object": "list", "data": self.cards[customer], "has_more": False})

    async def _create_token(self, request: web.Request) -> web.Response:
        self._authorized(request)
        saved = (await self.body(request)).get("saved_card") or {}
        card = next((c for c in self.cards.get(saved.get("customer_id"), []) if c["id"] == saved.get("card_id")),
                    None)
        if card is None:
            return self._error("1126", "Invalid card or customer")
        token = {"id": f"tok_{uuid.uuid4().hex[:20]}", "object": "token", "card": card, "used": False}
        self.tokens[token["id"]] = token
        return self.reply(token)

    async def _create_charge(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        reference = body.get("reference") or {}
        key = reference.get("idempotent")
        if key and ("charge", key) in self.idempotent:
            return self.reply(self.idempotent[("charge", key)])
        amount, currency = body.get("amount"), body.get("currency")
        customer_id = (body.get("customer") or {}).get("id")
        if not isinstance(amount, Decimal | int) or amount <= 0 or not currency or customer_id not in self.customers:
            return self._error("1105", "Invalid amount, currency or customer")
        source = (body.get("source") or {}).get("id")
        charge_id = f"chg_TS{uuid.uuid4().hex[:20]}"
        now = int(time.time() * 1000)
        charge: dict[str, Any] = {
            "id": charge_id, "object": "charge", "live_mode": False, "amount": Decimal(str(amount)),
            "currency": currency, "customer_initiated": body.get("customer_initiated", True),
            "threeDSecure": body.get("threeDSecure", True), "save_card": bool(body.get("save_card")),
            "description": body.get("description"),
            "metadata": body.get("metadata") or {}, "customer": {"id": customer_id},
            "reference": {**reference, "gateway": str(self.next_id()), "payment": str(self.next_id())},
            "transaction": {"created": str(now), "timezone": "UTC+03:00"},
            "redirect": body.get("redirect") or {}, "post": body.get("post") or {}}
        if source == "src_all":  # a hosted page: the customer pays there
            charge.update(status="INITIATED", response={"code": "100", "message": "Initiated"},
                          source={"id": "src_all"})
            charge["transaction"]["url"] = f"{self.url}/pay/{charge_id}"
        else:
            token = self.tokens.get(source or "")
            if token is None or token["used"]:
                return self._error("1128", "Invalid or used token")
            card = token["card"]
            if body.get("customer_initiated") is False and \
                    (body.get("payment_agreement") or {}).get("id") != card["payment_agreement"]["id"]:
                return self._error("1216", "Agreement id is missing")
            token["used"] = True
            status, code, message = BEHAVIOURS[self.behaviours[card["id"]]]
            charge.update(status=status, response={"code": code, "message": message},
                          source={"id": source, "object": "token"},
                          card={k: card[k] for k in ("id", "object", "first_six", "last_four", "brand")})
            if status == "INITIATED":
                charge["transaction"]["url"] = f"{self.url}/authenticate/{charge_id}"
        self.charges_by_id[charge_id] = charge
        if key:
            self.idempotent[("charge", key)] = charge
        return self.reply(charge)

    async def _get_charge(self, request: web.Request) -> web.Response:
        self._authorized(request)
        charge = self.charges_by_id.get(request.match_info["charge_id"])
        if charge is None:
            return self._error("1140", "Charge not found", 404)
        return self.reply(charge)

    async def _get_refund(self, request: web.Request) -> web.Response:
        self._authorized(request)
        refund = self.refunds.get(request.match_info["refund_id"])
        if refund is None:
            return self._error("1142", "Refund not found", 404)
        return self.reply(refund)

    async def _delete_card(self, request: web.Request) -> web.Response:
        """`DELETE /v2/card/{customer_id}/{card_id}`: Tap answers `{"id", "deleted": true}`."""
        self._authorized(request)
        customer, card_id = request.match_info["customer"], request.match_info["card"]
        cards = self.cards.get(customer)
        if cards is None or not any(c["id"] == card_id for c in cards):
            return self._error("1126", "Invalid card or customer", 404)
        self.cards[customer] = [c for c in cards if c["id"] != card_id]
        return self.reply({"id": card_id, "object": "card", "deleted": True})

    async def _create_refund(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        key = (body.get("reference") or {}).get("idempotent")
        if key and ("refund", key) in self.idempotent:
            return self.reply(self.idempotent[("refund", key)])
        charge = self.charges_by_id.get(body.get("charge_id") or "")
        amount = body.get("amount")
        if charge is None or charge["status"] != "CAPTURED":
            return self._error("1140", "Charge not found or not captured")
        refunded = sum(r["amount"] for r in self.refunds.values() if r["charge_id"] == charge["id"])
        if not isinstance(amount, Decimal | int) or amount <= 0 or Decimal(str(amount)) > charge["amount"] - refunded:
            return self._error("1141", "Refund amount is more than the refundable amount")
        refund = {"id": f"re_TS{uuid.uuid4().hex[:20]}", "object": "refund", "charge_id": charge["id"],
                  "amount": Decimal(str(amount)), "currency": charge["currency"], "status": "PENDING",
                  "reason": body.get("reason"), "reference": body.get("reference") or {},
                  "metadata": body.get("metadata") or {}, "created": str(int(time.time() * 1000)),
                  "response": {"code": "100", "message": "Refund pending"}}
        self.refunds[refund["id"]] = refund
        if key:
            self.idempotent[("refund", key)] = refund
        return self.reply(refund)
