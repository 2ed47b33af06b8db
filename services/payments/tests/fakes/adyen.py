"""A fake of Adyen's Checkout API v71 (https://docs.adyen.com/api-explorer/Checkout/71/overview).

Shapes follow Adyen's documentation: `X-API-Key` authenticates; `POST /payments` answers `{"pspReference",
"resultCode", "amount", "merchantReference", "refusalReason", "refusalReasonCode", "action"}`; errors are
`{"status", "errorCode", "message", "errorType"}` (`800` "Contract not found" for an unknown stored method); stored
methods are listed (`GET /storedPaymentMethods`) and deleted (`DELETE /storedPaymentMethods/{id}` with
`shopperReference` and `merchantAccount`, 204); an `Idempotency-Key` replays the first answer of a request (Adyen
keeps keys at least 7 days), which is Adyen's protection against a double charge since it has no look-up by
reference; refunds (`POST /payments/{pspReference}/refunds`) answer `received` and are settled by a `REFUND`
webhook. Webhooks are Adyen's standard notifications, signed with the official library's `generate_notification_sig`
(HMAC-SHA256 of the item's fields, hex key) in `additionalData.hmacSignature`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from Adyen.util import generate_notification_sig
from aiohttp import web

from .base import FakeServer

# how the issuer answers: (resultCode, refusalReason, refusalReasonCode)
BEHAVIOURS = {
    "ok": ("Authorised", None, None),
    "insufficient_funds": ("Refused", "Not enough balance", "12"),
    "stolen": ("Refused", "Blocked Card", "5"),
    "needs_authentication": ("RedirectShopper", None, None),
}


def psp_reference() -> str:
    return uuid.uuid4().hex[:16].upper()


class FakeAdyen(FakeServer):
    def __init__(self, merchant_account: str = "InvoraECOM") -> None:
        super().__init__()
        self.merchant_account = merchant_account
        self.stored: dict[str, list[dict[str, Any]]] = {}  # shopperReference -> stored methods, oldest first
        self.behaviours: dict[str, str] = {}
        self.payments: dict[str, dict[str, Any]] = {}  # by pspReference
        self.refunds: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, dict[str, Any]] = {}  # Idempotency-Key -> first answer
        self.links: dict[str, dict[str, Any]] = {}  # payment link url -> the link
        self.app.add_routes([
            web.post("/v71/payments", self._payments),
            web.get("/v71/storedPaymentMethods", self._stored_methods),
            web.delete("/v71/storedPaymentMethods/{method_id}", self._delete_stored_method),
            web.post("/v71/payments/{psp}/refunds", self._refund),
            web.post("/v71/paymentLinks", self._payment_link),
        ])

    # -- what the tests arrange and read -------------------------------------------------------------

    def add_card(self, shopper_reference: str, behaviour: str = "ok", last4: str = "1111") -> str:
        method_id = uuid.uuid4().hex[:16].upper()
        self.behaviours[method_id] = behaviour
        self.stored.setdefault(shopper_reference, []).append({
            "id": method_id, "type": "scheme", "brand": "visa", "lastFour": last4, "expiryMonth": "03",
            "expiryYear": "2030", "holderName": "A. Shopper", "name": "VISA",
            "supportedShopperInteractions": ["Ecommerce", "ContAuth"],
            "supportedRecurringProcessingModels": ["UnscheduledCardOnFile"]})
        return method_id

    def charges(self, shopper_reference: str) -> list[dict[str, Any]]:
        return [p for p in self.payments.values()
                if p["shopperReference"] == shopper_reference and p["resultCode"] == "Authorised"]

    def by_reference(self, reference: str) -> dict[str, Any]:
        return next(p for p in self.payments.values() if p["merchantReference"] == reference)

    def complete_authentication(self, reference: str) -> dict[str, Any]:
        payment = self.by_reference(reference)
        payment["resultCode"] = "Authorised"
        return payment

    def pay_link(self, url: str) -> dict[str, Any]:
        """The shopper pays a payment link: an authorised payment under the link's reference; a link made with
        `storePaymentMethodMode: enabled` also stores the card for the link's `shopperReference`."""
        link = self.links[url]
        link["status"] = "completed"
        if link.get("storePaymentMethodMode") == "enabled" and link.get("shopperReference"):
            # Adyen stores the card as a token for the shopper (a zero-value link only stores it)
            link["storedPaymentMethodId"] = self.add_card(link["shopperReference"], "ok", last4="4242")
        psp = psp_reference()
        self.payments[psp] = {"pspReference": psp, "resultCode": "Authorised", "amount": link["amount"],
                              "merchantReference": link["reference"], "shopperReference": link["shopperReference"],
                              "refunded": 0}
        return self.payments[psp]

    def notification(self, hmac_key: str, event_code: str, *, psp: str, merchant_reference: str, value: int,
                     currency: str, success: bool = True, original_reference: str = "",
                     reason: str = "") -> tuple[bytes, dict[str, str]]:
        item: dict[str, Any] = {
            "additionalData": {}, "amount": {"value": value, "currency": currency}, "eventCode": event_code,
            "eventDate": "2026-12-02T02:00:00+01:00", "merchantAccountCode": self.merchant_account,
            "merchantReference": merchant_reference, "originalReference": original_reference,
            "paymentMethod": "visa", "pspReference": psp, "reason": reason, "success": "true" if success else "false"}
        item["additionalData"]["hmacSignature"] = generate_notification_sig(item, hmac_key).decode()
        body = json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}).encode()
        return body, {"content-type": "application/json"}

    # -- the API -------------------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, code: str, message: str, error_type: str = "validation") -> web.Response:
        return FakeServer.reply({"status": status, "errorCode": code, "message": message, "errorType": error_type},
                                status)

    def _check(self, request: web.Request, merchant_account: Any) -> web.Response | None:
        if not request.headers.get("X-API-Key"):
            return self._error(401, "000", "HTTP Status Response - Unauthorized", "security")
        if merchant_account != self.merchant_account:
            return self._error(403, "901", "Invalid Merchant Account", "security")
        return None

    async def _payments(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        if (refused := self._check(request, body.get("merchantAccount"))) is not None:
            return refused
        key = request.headers.get("Idempotency-Key")
        if key and key in self.idempotent:
            return self.reply(self.idempotent[key])
        amount, reference = body.get("amount") or {}, body.get("reference")
        if not isinstance(amount.get("value"), int) or amount["value"] < 0 or not amount.get("currency") \
                or not reference:
            return self._error(422, "100", "Required field missing or invalid: amount or reference")
        method_id = (body.get("paymentMethod") or {}).get("storedPaymentMethodId")
        shopper = body.get("shopperReference")
        if method_id not in {m["id"] for m in self.stored.get(shopper, [])}:
            return self._error(422, "800", "Contract not found")
        if body.get("shopperInteraction") != "ContAuth":
            return self._error(422, "100", "An off-session charge with a stored card needs shopperInteraction ContAuth")
        result_code, reason, reason_code = BEHAVIOURS[self.behaviours[method_id]]
        psp = psp_reference()
        answer: dict[str, Any] = {"pspReference": psp, "resultCode": result_code, "amount": amount,
                                  "merchantReference": reference}
        if reason:
            answer.update(refusalReason=reason, refusalReasonCode=reason_code)
        if result_code == "RedirectShopper":
            answer["action"] = {"type": "redirect", "method": "GET", "paymentMethodType": "scheme",
                                "url": f"{self.url}/threeds2/{psp}"}
        self.payments[psp] = {**answer, "shopperReference": shopper, "refunded": 0}
        if key:
            self.idempotent[key] = answer
        return self.reply(answer)

    async def _stored_methods(self, request: web.Request) -> web.Response:
        if (refused := self._check(request, request.query.get("merchantAccount"))) is not None:
            return refused
        shopper = request.query.get("shopperReference")
        return self.reply({"merchantAccount": self.merchant_account, "shopperReference": shopper,
                           "storedPaymentMethods": self.stored.get(shopper, [])})

    async def _delete_stored_method(self, request: web.Request) -> web.Response:
        """`DELETE /storedPaymentMethods/{id}?shopperReference&merchantAccount` (both required): 204, no body."""
        if (refused := self._check(request, request.query.get("merchantAccount"))) is not None:
            return refused
        shopper, method_id = request.query.get("shopperReference"), request.match_info["method_id"]
        if not shopper:
            return self._error(422, "100", "Required field 'shopperReference' is not provided.")
        stored = self.stored.get(shopper, [])
        if method_id not in {m["id"] for m in stored}:
            return self._error(422, "800", "Contract not found")
        self.stored[shopper] = [m for m in stored if m["id"] != method_id]
        return web.Response(status=204)

    async def _refund(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        if (refused := self._check(request, body.get("merchantAccount"))) is not None:
            return refused
        key = request.headers.get("Idempotency-Key")
        if key and key in self.idempotent:
            return self.reply(self.idempotent[key], 201)
        payment = self.payments.get(request.match_info["psp"])
        if payment is None or payment["resultCode"] != "Authorised":
            return self._error(422, "167", "Original pspReference required for this operation")
        amount = body.get("amount") or {}
        left = payment["amount"]["value"] - payment["refunded"]
        if amount.get("currency") != payment["amount"]["currency"] or not isinstance(amount.get("value"), int) \
                or not 0 < amount["value"] <= left:
            return self._error(422, "137", "Invalid amount specified")
        payment["refunded"] += amount["value"]
        answer = {"merchantAccount": self.merchant_account, "paymentPspReference": payment["pspReference"],
                  "pspReference": psp_reference(), "reference": body.get("reference"), "status": "received",
                  "amount": amount}
        self.refunds[answer["pspReference"]] = answer
        if key:
            self.idempotent[key] = answer
        return self.reply(answer, 201)

    async def _payment_link(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        if (refused := self._check(request, body.get("merchantAccount"))) is not None:
            return refused
        amount = body.get("amount") or {}
        if not isinstance(amount.get("value"), int) or amount["value"] < 0 or not amount.get("currency") \
                or not body.get("reference"):
            return self._error(422, "100", "Required field missing or invalid: amount or reference")
        link_id = f"PL{uuid.uuid4().hex[:14].upper()}"
        link = {"id": link_id, "url": f"{self.url}/payByLink/{link_id}", "status": "active", "amount": amount,
                "reference": body["reference"], "shopperReference": body.get("shopperReference"),
                "metadata": body.get("metadata") or {}, "storePaymentMethodMode": body.get("storePaymentMethodMode"),
                "recurringProcessingModel": body.get("recurringProcessingModel")}
        if body.get("storePaymentMethodMode") == "enabled" and (
                not body.get("shopperReference") or not body.get("recurringProcessingModel")):
            return self._error(422, "100", "Storing payment details needs shopperReference and "
                                           "recurringProcessingModel")
        self.links[link["url"]] = link
        return self.reply(link, 201)
