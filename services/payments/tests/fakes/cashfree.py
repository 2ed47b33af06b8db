"""A fake of Cashfree's PG API, version 2023-08-01 (https://www.cashfree.com/docs/api-reference/payments/):
the payment-link and refund endpoints the adapter calls.

Shapes follow Cashfree's documentation: requests authenticate with `x-client-id`, `x-client-secret` and
`x-api-version`; amounts are decimal numbers in major units; a `link_id` is unique per merchant (a second link with
the same id is refused), links start `ACTIVE` with a `link_url`, turn `PAID` when the customer pays, `POST
/links/{id}/cancel` ends an `ACTIVE` one and `GET /links/{id}/orders` lists the orders made on them (Cashfree's own
`CFPay_…` order ids); a `refund_id` is unique per order, refunds start `PENDING` and are settled later
(`REFUND_STATUS_WEBHOOK`); dispute webhooks (`DISPUTE_CREATED|UPDATED|CLOSED`, `dispute`) name the paid order in
`order_details` (Cashfree's samples). Webhooks are signed as Cashfree signs them: `x-webhook-signature` is the
base64 HMAC-SHA256 of `x-webhook-timestamp` followed by the raw body, keyed with the client secret.

Not verified against a live sandbox: the exact error codes and messages of refusals (the adapter relies only
on the HTTP status), and fields the adapter does not read.

Saved cards (Cashfree's token vault) are kept per `customer_id` (`save_card` stands for a card the customer saved
on an order made with that id): `GET /customers/{customer_id}/instruments?instrument_type=card` lists them,
`DELETE …/instruments/{instrument_id}` removes one.

The customer's behaviour on the page is arranged per e-mail (`will_pay`): `ok` pays, a decline leaves the link
`ACTIVE` (Cashfree lets the customer try again) and records the failed order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from .base import FakeServer

PLACEHOLDER_PHONE = "9999999999"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FakeCashfree(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, dict[str, Any]] = {}  # by link_id
        self.orders: dict[str, dict[str, Any]] = {}  # by order_id (made when the customer pays a link)
        self.refunds: dict[str, dict[str, Any]] = {}  # by cf_refund_id
        self.behaviours: dict[str, str] = {}  # customer e-mail -> how they answer on the page
        self.instruments: dict[str, list[dict[str, Any]]] = {}  # customer_id -> saved cards (token vault)
        self.app.add_routes([
            web.post("/links", self._create_link),
            web.get("/links/{link_id}", self._get_link),
            web.get("/links/{link_id}/orders", self._link_orders),
            web.post("/links/{link_id}/cancel", self._cancel_link),
            web.post("/orders/{order_id}/refunds", self._create_refund),
            web.get("/orders/{order_id}/refunds/{refund_id}", self._get_refund),
            web.get("/customers/{customer_id}/instruments", self._instruments),
            web.delete("/customers/{customer_id}/instruments/{instrument_id}", self._delete_instrument),
        ])

    # -- what the tests arrange and read -------------------------------------------------------------

    def will_pay(self, email: str, behaviour: str = "ok") -> None:
        self.behaviours[email] = behaviour

    def charges(self, email: str) -> list[dict[str, Any]]:
        """The paid orders of a customer's links: a double charge would show twice."""
        return [o for o in self.orders.values()
                if o["customer_details"]["customer_email"] == email and o["order_status"] == "PAID"]

    def pay(self, link_id: str) -> dict[str, Any]:
        """The customer opens the link and pays the way arranged for them; the link as it is afterwards."""
        link = self.links[link_id]
        assert link["link_status"] == "ACTIVE", link["link_status"]
        behaviour = self.behaviours.get(link["customer_details"]["customer_email"], "ok")
        order_id = f"CFPay_{link['cf_link_id']}_{uuid.uuid4().hex[:10]}"
        paid = behaviour == "ok"
        self.orders[order_id] = {"order_id": order_id, "cf_order_id": str(self.next_id()),
                                 "order_amount": link["link_amount"], "order_currency": link["link_currency"],
                                 "order_status": "PAID" if paid else "ACTIVE", "link_id": link_id,
                                 "customer_details": link["customer_details"], "transaction_id": self.next_id(),
                                 "transaction_status": "SUCCESS" if paid else "FAILED", "refunded": Decimal(0)}
        if paid:
            link.update(link_status="PAID", link_amount_paid=link["link_amount"])
        link["order"] = {k: self.orders[order_id][k] for k in
                         ("order_id", "order_amount", "transaction_id", "transaction_status")}
        return link

    def expire(self, link_id: str) -> dict[str, Any]:
        """The link's expiry time passed unpaid."""
        link = self.links[link_id]
        link["link_status"] = "EXPIRED"
        return link

    def signed(self, client_secret: str, event_type: str, data: dict[str, Any],
               timestamp: str | None = None) -> tuple[bytes, dict[str, str]]:
        event_time = datetime.now(UTC).isoformat()  # to the microsecond: two deliveries differ
        body = json.dumps({"data": data, "type": event_type, "version": 1, "event_time": event_time},
                          default=str).encode()
        timestamp = timestamp or str(int(datetime.now(UTC).timestamp() * 1000))
        digest = hmac.new(client_secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
        return body, {"content-type": "application/json", "x-webhook-timestamp": timestamp,
                      "x-webhook-signature": base64.b64encode(digest).decode(), "x-webhook-version": "2023-08-01"}

    def dispute(self, link_id: str, dispute_status: str, *, dispute_id: int | None = None,
                dispute_type: str = "CHARGEBACK") -> dict[str, Any]:
        """The `data` of a dispute webhook (`DISPUTE_CREATED|UPDATED|CLOSED`) on the order that paid the link: the
        dispute, the order's details (`order_id`, `cf_payment_id`) and the customer's."""
        [order] = [o for o in self.orders.values() if o["link_id"] == link_id and o["order_status"] == "PAID"]
        now = _now()
        return {"dispute": {"dispute_id": dispute_id or self.next_id(), "dispute_type": dispute_type,
                            "reason_code": "10.4", "reason_description": "Other Fraud - Card Absent Environment",
                            "dispute_amount": order["order_amount"], "created_at": now, "updated_at": now,
                            "respond_by": now, "dispute_status": dispute_status,
                            "cf_dispute_remarks": "Dispute is created, please take action",
                            "dispute_action_on": "MERCHANT"},
                "order_details": {"order_id": order["order_id"], "order_amount": order["order_amount"],
                                  "order_currency": order["order_currency"], "cf_payment_id": order["transaction_id"],
                                  "payment_amount": order["order_amount"], "payment_currency": order["order_currency"]},
                "customer_details": {"customer_name": None, "customer_phone": PLACEHOLDER_PHONE,
                                     "customer_email": order["customer_details"]["customer_email"]}}

    def save_card(self, customer_id: str, last4: str = "1111", network: str = "VISA") -> str:
        """A card the customer saved (with consent, tokenised) on an order made with `customer_id`."""
        instrument_id = str(uuid.uuid4())
        self.instruments.setdefault(customer_id, []).append({
            "customer_id": customer_id, "afa_reference": str(self.next_id()), "instrument_id": instrument_id,
            "instrument_type": "card", "instrument_uid": uuid.uuid4().hex, "instrument_display": f"XXXXXXXXXXXX{last4}",
            "instrument_status": "ACTIVE", "created_at": _now(),
            "instrument_meta": {"card_network": network, "card_bank_name": "TEST BANK", "card_country": "IN",
                                "card_type": "credit_card", "card_token_details": {}}})
        return instrument_id

    def settle_refund(self, cf_refund_id: str, status: str = "SUCCESS") -> dict[str, Any]:
        refund = self.refunds[cf_refund_id]
        refund.update(refund_status=status, processed_at=_now())
        return refund

    # -- the API -------------------------------------------------------------------------------------

    @staticmethod
    def _refuse(message: str, code: str, status: int = 400) -> web.Response:
        return FakeServer.reply({"message": message, "code": code, "type": "invalid_request_error"}, status)

    def _authorized(self, request: web.Request) -> None:
        if not request.headers.get("x-client-id") or not request.headers.get("x-client-secret"):
            raise web.HTTPUnauthorized(text='{"message": "authentication Failed", "code": "request_failed", '
                                            '"type": "authentication_error"}', content_type="application/json")
        if request.headers.get("x-api-version") != "2023-08-01":
            raise web.HTTPBadRequest(text='{"message": "x-api-version is invalid", "code": "version_invalid", '
                                          '"type": "invalid_request_error"}', content_type="application/json")

    async def _create_link(self, request: web.Request) -> web.Response:
        self._authorized(request)
        body = await self.body(request)
        link_id, amount, customer = body.get("link_id"), body.get("link_amount"), body.get("customer_details") or {}
        if not link_id or not isinstance(amount, Decimal | int) or amount <= 0 or not body.get("link_currency") \
                or not body.get("link_purpose") or not customer.get("customer_phone"):
            return self._refuse("link_id, link_amount, link_currency, link_purpose, customer_phone are required",
                                "link_post_failed")
        if link_id in self.links:
            return self._refuse("link_id already exists", "link_post_failed", 409)
        cf_link_id = self.next_id()
        link = {"cf_link_id": cf_link_id, "link_id": link_id, "link_status": "ACTIVE",
                "link_currency": body["link_currency"], "link_amount": Decimal(str(amount)),
                "link_amount_paid": Decimal(0), "link_partial_payments": bool(body.get("link_partial_payments")),
                "link_purpose": body["link_purpose"], "link_created_at": _now(), "customer_details": customer,
                "link_meta": body.get("link_meta") or {}, "link_url": f"{self.url}/links/pay/{cf_link_id}",
                "link_expiry_time": None, "link_notes": body.get("link_notes") or {},
                "link_auto_reminders": False, "link_notify": body.get("link_notify") or {}}
        self.links[link_id] = link
        return self.reply({k: v for k, v in link.items() if k != "order"})

    async def _get_link(self, request: web.Request) -> web.Response:
        self._authorized(request)
        link = self.links.get(request.match_info["link_id"])
        if link is None:
            return self._refuse("link does not exist", "link_not_found", 404)
        return self.reply({k: v for k, v in link.items() if k != "order"})

    async def _cancel_link(self, request: web.Request) -> web.Response:
        """Only an `ACTIVE` link can be cancelled; no payment can be made on it afterwards."""
        self._authorized(request)
        link = self.links.get(request.match_info["link_id"])
        if link is None:
            return self._refuse("link does not exist", "link_not_found", 404)
        if link["link_status"] != "ACTIVE":
            return self._refuse(f"link is {link['link_status']}: only an active link can be cancelled",
                                "link_cancel_failed")
        link["link_status"] = "CANCELLED"
        return self.reply({k: v for k, v in link.items() if k != "order"})

    async def _instruments(self, request: web.Request) -> web.Response:
        """`GET /customers/{customer_id}/instruments?instrument_type=card` (the type is required)."""
        self._authorized(request)
        if request.query.get("instrument_type") != "card":
            return self._refuse("instrument_type is missing or invalid", "instrument_type_invalid")
        return self.reply(self.instruments.get(request.match_info["customer_id"], []))

    async def _delete_instrument(self, request: web.Request) -> web.Response:
        self._authorized(request)
        saved = self.instruments.get(request.match_info["customer_id"], [])
        found = next((i for i in saved if i["instrument_id"] == request.match_info["instrument_id"]), None)
        if found is None:
            return self._refuse("instrument does not exist", "instrument_not_found", 404)
        saved.remove(found)
        return self.reply({**found, "instrument_status": "DELETED"})

    async def _link_orders(self, request: web.Request) -> web.Response:
        self._authorized(request)
        link_id = request.match_info["link_id"]
        if link_id not in self.links:
            return self._refuse("link does not exist", "link_not_found", 404)
        return self.reply([{k: v for k, v in o.items() if k != "refunded"}
                           for o in self.orders.values() if o["link_id"] == link_id])

    async def _create_refund(self, request: web.Request) -> web.Response:
        self._authorized(request)
        order = self.orders.get(request.match_info["order_id"])
        if order is None or order["order_status"] != "PAID":
            return self._refuse("order not found or not paid", "order_not_found", 404)
        body = await self.body(request)
        refund_id, amount = body.get("refund_id"), body.get("refund_amount")
        if not refund_id or not isinstance(amount, Decimal | int) or amount <= 0:
            return self._refuse("refund_id and refund_amount are required", "refund_post_failed")
        if any(r["refund_id"] == refund_id and r["order_id"] == order["order_id"] for r in self.refunds.values()):
            return self._refuse("refund_id already exists", "refund_post_failed", 409)
        if Decimal(str(amount)) > order["order_amount"] - order["refunded"]:
            return self._refuse("refund amount is greater than the refundable amount", "refund_post_failed")
        order["refunded"] += Decimal(str(amount))
        cf_refund_id = str(self.next_id())
        refund = {"cf_payment_id": order["transaction_id"], "cf_refund_id": cf_refund_id, "refund_id": refund_id,
                  "order_id": order["order_id"], "entity": "refund", "refund_amount": Decimal(str(amount)),
                  "refund_currency": order["order_currency"], "refund_note": body.get("refund_note"),
                  "refund_status": "PENDING", "refund_type": "MERCHANT_INITIATED", "created_at": _now(),
                  "processed_at": None, "status_description": "In Progress"}
        self.refunds[cf_refund_id] = refund
        return self.reply(refund)

    async def _get_refund(self, request: web.Request) -> web.Response:
        self._authorized(request)
        found = next((r for r in self.refunds.values() if r["order_id"] == request.match_info["order_id"]
                      and r["refund_id"] == request.match_info["refund_id"]), None)
        if found is None:
            return self._refuse("refund does not exist", "refund_not_found", 404)
        return self.reply(found)
