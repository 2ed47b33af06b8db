"""The providers other than Stripe, each against its local fake (`tests/fakes/`), through the same paths as
Stripe's tests: a charge taken once, declines in their category, 3-D Secure and the webhook that completes it,
webhooks refused when unsigned or forged, duplicates that change nothing, refunds (partial then full), and the
never-twice staging (a crash after the call, a lost answer, concurrent chargers) counted at the fake.

Every test runs once per provider (`driver`): a driver knows how to connect the provider, give a customer a
card that behaves a given way, count the charges at the fake and sign its webhooks.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from invora.events.envelope import EventEnvelope
from invora.testing.services import run_service
from payments.payments import charger, reconciler, repository
from payments.providers.base import ChargeRequest, ProviderUnreachable
from payments.refunds import service as refunds
from services.payments.tests.conftest import SERVICE, Stage, customer_object
from services.payments.tests.fakes.adyen import FakeAdyen
from services.payments.tests.fakes.cashfree import FakeCashfree
from services.payments.tests.fakes.flutterwave import FakeFlutterwave
from services.payments.tests.fakes.gocardless import FakeGoCardless
from services.payments.tests.fakes.moneyhash import FakeMoneyhash
from services.payments.tests.fakes.paystack import FakePaystack
from services.payments.tests.fakes.tap import FakeTap


@pytest.fixture(scope="module")
async def fakes():
    servers = {"paystack": FakePaystack(), "flutterwave": FakeFlutterwave(), "adyen": FakeAdyen(),
               "gocardless": FakeGoCardless(), "cashfree": FakeCashfree(), "tap": FakeTap(),
               "moneyhash": FakeMoneyhash()}
    for server in servers.values():
        await server.start()
    try:
        yield servers
    finally:
        for server in servers.values():
            await server.stop()


@pytest.fixture(scope="module")
async def payments(migrated_database, invora_kafka: str, invora_keys, fakes):
    url = migrated_database(SERVICE)
    async with run_service(SERVICE, database_url=url, kafka=invora_kafka, keys=invora_keys, consumers_enabled=False,
                           charger_enabled=False, charger_backoff_seconds=1.0, provider_timeout_seconds=5.0,
                           charger_lease_seconds=30.0, paystack_api_base=fakes["paystack"].url,
                           flutterwave_api_base=fakes["flutterwave"].url, adyen_api_base=fakes["adyen"].url + "/v71",
                           gocardless_api_base=fakes["gocardless"].url, cashfree_api_base=fakes["cashfree"].url,
                           tap_api_base=fakes["tap"].url, moneyhash_api_base=fakes["moneyhash"].url,
                           consumer_session_timeout_ms=2_000) as running:
        yield running


# -- one driver per provider --------------------------------------------------------------------------


class Driver:
    def settle_silently(self, payment: dict) -> None:
        """The provider settles the charge (the customer authenticated...) and no webhook tells us."""
        self.authenticate(payment)

    signs_the_body = True  # the signature covers the body (a tampered body does not verify)
    looks_up_by_reference = True  # else: a reconciling charger repeats the call with the same idempotency key
    authenticates = True  # has a 3-D Secure path
    reconciles = True  # a payment can be read back (by reference or by the provider's id)
    reads_refunds = True  # a refund can be read back (by the provider's refund id or by our reference)
    deletes_methods = True  # a payment method can be removed at the provider
    hosted = False  # no off-session charge: a charge is a page the customer pays (Cashfree's payment link)
    declines = {"insufficient_funds": ("insufficient_funds", "soft"), "stolen": ("stolen_card", "hard")}

    def settle(self, payment: dict) -> list[tuple[bytes, dict[str, str]]]:
        """The webhooks that settle a charge the provider answered `processing` (direct debit)."""
        return []

    @staticmethod
    def tamper(body: bytes) -> bytes:
        """The body changed after signing (one more byte is enough where the whole body is signed)."""
        return body + b" "

    @staticmethod
    def unsigned(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        return body, {"content-type": "application/json"}


class PaystackDriver(Driver):
    provider_type = "paystack"
    currency = "NGN"

    def __init__(self, fake: FakePaystack) -> None:
        self.fake = fake
        self.secret_key = f"sk_test_{uuid.uuid4().hex}"

    def connection(self, code: str) -> dict[str, Any]:
        return {"provider_type": "paystack", "code": code, "name": "Paystack", "secret_key": self.secret_key}

    def customer(self, email: str, behaviour: str | None) -> str:
        code = self.fake.add_customer(email)
        if behaviour:
            self.fake.add_card(code, behaviour)
        return code

    def charges(self, provider_customer_id: str, email: str) -> list[int]:
        return [t["amount"] for t in self.fake.charges(provider_customer_id)]

    def add_method(self, provider_customer_id: str, behaviour: str) -> None:
        self.fake.add_card(provider_customer_id, behaviour)

    def charge_webhook(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        transaction = self.fake.transactions[payment["lago_id"]]
        return self.fake.signed(self.secret_key, "charge.success", transaction)

    def forged(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        return self.fake.signed("sk_test_someone_else", "charge.success", self.fake.transactions[payment["lago_id"]])

    def authenticate(self, payment: dict) -> None:
        self.fake.complete_authentication(payment["lago_id"])

    def settle_refund(self, provider_refund_id: str) -> tuple[bytes, dict[str, str]] | None:
        refund = self.fake.settle_refund(int(provider_refund_id))
        return self.fake.signed(self.secret_key, "refund.processed", refund)

    def refunded(self) -> int:
        return sum(r["amount"] for r in self.fake.refunds.values())

    def page_webhook(self, url: str) -> tuple[bytes, dict[str, str]]:
        """The customer pays the provider's hosted page; the webhook that says so."""
        return self.fake.signed(self.secret_key, "charge.success", self.fake.pay_checkout(url))

    def complete_setup(self, url: str) -> list[tuple[bytes, dict[str, str]]]:
        """The customer completes the checkout URL's page (a small card payment that keeps the card)."""
        return [self.page_webhook(url)]

    def disputes(self, payment: dict) -> list[tuple[bytes, dict[str, str]]]:
        transaction = self.fake.transactions[payment["lago_id"]]
        opened = {"id": 358950, "refund_amount": transaction["amount"], "currency": transaction["currency"],
                  "status": "awaiting-merchant-feedback", "resolution": None, "domain": "test",
                  "category": "chargeback",
                  "transaction": {"id": transaction["id"], "reference": transaction["reference"]}}
        resolved = {**opened, "status": "resolved", "resolution": "merchant-accepted"}
        return [self.fake.signed(self.secret_key, "charge.dispute.create", opened),
                self.fake.signed(self.secret_key, "charge.dispute.resolve", resolved)]


class FlutterwaveDriver(Driver):
    provider_type = "flutterwave"
    deletes_methods = False
    signs_the_body = False
    currency = "EUR"

    def __init__(self, fake: FakeFlutterwave) -> None:
        self.fake = fake
        self.secret_key = f"FLWSECK_TEST-{uuid.uuid4().hex}-X"
        self.secret_hash = uuid.uuid4().hex

    def connection(self, code: str) -> dict[str, Any]:
        return {"provider_type": "flutterwave", "code": code, "name": "Flutterwave", "secret_key": self.secret_key,
                "webhook_secret": self.secret_hash}

    def customer(self, email: str, behaviour: str | None) -> str:
        if behaviour:
            self.fake.add_card(email, behaviour, currency=self.currency)
        return email

    def charges(self, provider_customer_id: str, email: str) -> list[int]:
        return [int(t["amount"] * 100) for t in self.fake.charges(email)]

    def _transaction(self, payment: dict) -> dict:
        return next(t for t in self.fake.transactions.values() if t["tx_ref"] == payment["lago_id"])

    def charge_webhook(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        return self.fake.signed(self.secret_hash, "charge.completed", self._transaction(payment))

    def forged(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        return self.fake.signed("not-the-hash", "charge.completed", self._transaction(payment))

    def authenticate(self, payment: dict) -> None:
        self.fake.complete_authentication(payment["lago_id"])

    def settle_refund(self, provider_refund_id: str) -> tuple[bytes, dict[str, str]] | None:
        return None  # Flutterwave answers `completed` at once

    def page_webhook(self, url: str) -> tuple[bytes, dict[str, str]]:
        return self.fake.signed(self.secret_hash, "charge.completed", self.fake.pay_checkout(url))

    def complete_setup(self, url: str) -> list[tuple[bytes, dict[str, str]]]:
        assert self.fake.links[url]["tx_ref"].startswith("setup-")
        return [self.page_webhook(url)]

    def disputes(self, payment: dict) -> list[tuple[bytes, dict[str, str]]]:
        transaction = self._transaction(payment)
        return [self.fake.signed(self.secret_hash, "chargeback.initiated",
                                 self.fake.chargeback(transaction["id"], "initiated")),
                self.fake.signed(self.secret_hash, "chargeback.lost",
                                 self.fake.chargeback(transaction["id"], "lost", "pre-arbitration"))]

    def refunded(self) -> int:
        return sum(int(r["amount_refunded"] * 100) for r in self.fake.refunds.values())


class AdyenDriver(Driver):
    provider_type = "adyen"
    currency = "EUR"
    looks_up_by_reference = False
    reconciles = False
    reads_refunds = False  # Adyen's Checkout API has no refund look-up: only the REFUND webhook settles one
    declines = {"insufficient_funds": ("insufficient_funds", "soft"), "stolen": ("restricted_card", "hard")}

    def __init__(self, fake: FakeAdyen) -> None:
        self.fake = fake
        self.hmac_key = uuid.uuid4().hex + uuid.uuid4().hex

    def connection(self, code: str) -> dict[str, Any]:
        return {"provider_type": "adyen", "code": code, "name": "Adyen", "api_key": f"AQE{uuid.uuid4().hex}",
                "hmac_key": self.hmac_key, "merchant_account": self.fake.merchant_account}

    def customer(self, email: str, behaviour: str | None) -> str:
        shopper = f"shopper-{uuid.uuid4().hex[:12]}"
        if behaviour:
            self.fake.add_card(shopper, behaviour)
        return shopper

    def charges(self, provider_customer_id: str, email: str) -> list[int]:
        return [p["amount"]["value"] for p in self.fake.charges(provider_customer_id)]

    def add_method(self, provider_customer_id: str, behaviour: str) -> None:
        self.fake.add_card(provider_customer_id, behaviour)

    def _authorisation(self, payment: dict, hmac_key: str) -> tuple[bytes, dict[str, str]]:
        at_adyen = self.fake.by_reference(payment["lago_id"])
        return self.fake.notification(hmac_key, "AUTHORISATION", psp=at_adyen["pspReference"],
                                      merchant_reference=payment["lago_id"], value=at_adyen["amount"]["value"],
                                      currency=at_adyen["amount"]["currency"])

    def charge_webhook(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        return self._authorisation(payment, self.hmac_key)

    @staticmethod
    def unsigned(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        notification = json.loads(body)  # Adyen's signature travels in the body
        del notification["notificationItems"][0]["NotificationRequestItem"]["additionalData"]["hmacSignature"]
        return json.dumps(notification).encode(), headers

    @staticmethod
    def tamper(body: bytes) -> bytes:  # Adyen signs the item's fields, `success` among them, not the bytes
        assert b'"success": "true"' in body
        return body.replace(b'"success": "true"', b'"success": "false"')

    def forged(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        return self._authorisation(payment, uuid.uuid4().hex * 2)

    def authenticate(self, payment: dict) -> None:
        self.fake.complete_authentication(payment["lago_id"])

    def settle_refund(self, provider_refund_id: str) -> tuple[bytes, dict[str, str]] | None:
        refund = self.fake.refunds[provider_refund_id]
        return self.fake.notification(self.hmac_key, "REFUND", psp=provider_refund_id,
                                      original_reference=refund["paymentPspReference"],
                                      merchant_reference=refund["reference"], value=refund["amount"]["value"],
                                      currency=refund["amount"]["currency"])

    def refunded(self) -> int:
        return sum(r["amount"]["value"] for r in self.fake.refunds.values())

    def complete_setup(self, url: str) -> list[tuple[bytes, dict[str, str]]]:
        link = self.fake.links[url]
        assert link["storePaymentMethodMode"] == "enabled" and link["amount"]["value"] == 0
        return [self.page_webhook(url)]

    def page_webhook(self, url: str) -> tuple[bytes, dict[str, str]]:
        paid = self.fake.pay_link(url)
        return self.fake.notification(self.hmac_key, "AUTHORISATION", psp=paid["pspReference"],
                                      merchant_reference=paid["merchantReference"], value=paid["amount"]["value"],
                                      currency=paid["amount"]["currency"])

    def disputes(self, payment: dict) -> list[tuple[bytes, dict[str, str]]]:
        at_adyen = self.fake.by_reference(payment["lago_id"])
        common = {"merchant_reference": payment["lago_id"], "value": at_adyen["amount"]["value"],
                  "currency": at_adyen["amount"]["currency"], "original_reference": at_adyen["pspReference"]}
        return [self.fake.notification(self.hmac_key, "NOTIFICATION_OF_CHARGEBACK",
                                       psp="CB1" + at_adyen["pspReference"], reason="Fraudulent transaction",
                                       **common),
                self.fake.notification(self.hmac_key, "SECOND_CHARGEBACK", psp="CB2" + at_adyen["pspReference"],
                                       reason="Fraudulent transaction", **common)]


class GoCardlessDriver(Driver):
    provider_type = "gocardless"
    currency = "EUR"
    looks_up_by_reference = False
    authenticates = False  # a direct debit mandate needs no authentication per payment
    declines = {"insufficient_funds": ("insufficient_funds", "soft"), "stolen": ("account_closed", "hard")}

    def __init__(self, fake: FakeGoCardless) -> None:
        self.fake = fake
        self.webhook_secret = uuid.uuid4().hex

    def connection(self, code: str) -> dict[str, Any]:
        return {"provider_type": "gocardless", "code": code, "name": "GoCardless",
                "access_token": f"sandbox_{uuid.uuid4().hex}", "webhook_secret": self.webhook_secret}

    def customer(self, email: str, behaviour: str | None) -> str:
        customer = self.fake.add_customer(email)
        if behaviour:
            self.fake.add_mandate(customer, behaviour)
        return customer

    def charges(self, provider_customer_id: str, email: str) -> list[int]:
        return [p["amount"] for p in self.fake.charges(provider_customer_id)]

    def add_method(self, provider_customer_id: str, behaviour: str) -> None:
        self.fake.add_mandate(provider_customer_id, behaviour)

    def settle(self, payment: dict) -> list[tuple[bytes, dict[str, str]]]:
        return [self.fake.signed(self.webhook_secret, self.fake.settle(payment["provider_payment_id"]))]

    def settle_silently(self, payment: dict) -> None:
        self.fake.settle(payment["provider_payment_id"])

    def charge_webhook(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        event = self.fake.event("payments", "confirmed", payment["provider_payment_id"], "payment_confirmed",
                                "Confirmed.")
        return self.fake.signed(self.webhook_secret, [event])

    def forged(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        event = self.fake.event("payments", "confirmed", payment["provider_payment_id"], "payment_confirmed",
                                "Confirmed.")
        return self.fake.signed("not-the-secret", [event])

    def settle_refund(self, provider_refund_id: str) -> tuple[bytes, dict[str, str]] | None:
        return self.fake.signed(self.webhook_secret, self.fake.settle_refund(provider_refund_id))

    def refunded(self) -> int:
        return sum(r["amount"] for r in self.fake.refunds.values())

    def page_webhook(self, url: str) -> tuple[bytes, dict[str, str]]:
        return self.fake.signed(self.webhook_secret, [self.fake.pay_flow(url)])

    def complete_setup(self, url: str) -> list[tuple[bytes, dict[str, str]]]:
        """The customer authorises a mandate on the billing request's flow."""
        return [self.page_webhook(url)]

    def disputes(self, payment: dict) -> list[tuple[bytes, dict[str, str]]]:
        event = self.fake.event("payments", "charged_back", payment["provider_payment_id"], "authorisation_disputed",
                                "The customer disputed the debit with their bank.")
        return [self.fake.signed(self.webhook_secret, [event])]


class CashfreeDriver(Driver):
    """Cashfree: a charge is a payment link (`requires_action` with its URL); the customer pays it and the
    `PAYMENT_LINK_EVENT` webhook settles the payment."""

    provider_type = "cashfree"
    currency = "INR"
    hosted = True
    authenticates = False  # 3-D Secure happens on Cashfree's page, inside the customer's payment
    deletes_methods = False

    def __init__(self, fake: FakeCashfree) -> None:
        self.fake = fake
        self.client_secret = f"cfsk_ma_test_{uuid.uuid4().hex}"

    def connection(self, code: str) -> dict[str, Any]:
        return {"provider_type": "cashfree", "code": code, "name": "Cashfree", "client_id": f"TEST{uuid.uuid4().hex}",
                "client_secret": self.client_secret, "redirect_url": "https://acme.test/paid"}

    def customer(self, email: str, behaviour: str | None) -> str:
        self.fake.will_pay(email, behaviour or "ok")
        return email

    def charges(self, provider_customer_id: str, email: str) -> list[int]:
        return [int(o["order_amount"] * 100) for o in self.fake.charges(email)]

    def _link_event(self, link: dict, secret: str) -> tuple[bytes, dict[str, str]]:
        return self.fake.signed(secret, "PAYMENT_LINK_EVENT", link)

    def settle(self, payment: dict) -> list[tuple[bytes, dict[str, str]]]:
        link = self.fake.pay(payment["lago_id"])  # the customer pays on the link
        return [self._link_event(link, self.client_secret)] if link["link_status"] == "PAID" else []

    def settle_silently(self, payment: dict) -> None:
        self.fake.pay(payment["lago_id"])

    def charge_webhook(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        return self._link_event(self.fake.links[payment["lago_id"]], self.client_secret)

    def forged(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        claimed = {**self.fake.links[payment["lago_id"]], "link_status": "PAID"}
        return self._link_event(claimed, "cfsk_ma_test_someone_else")

    def settle_refund(self, provider_refund_id: str) -> tuple[bytes, dict[str, str]] | None:
        refund = self.fake.settle_refund(provider_refund_id)
        return self.fake.signed(self.client_secret, "REFUND_STATUS_WEBHOOK", {"refund": refund})

    def refunded(self) -> int:
        return sum(int(r["refund_amount"] * 100) for r in self.fake.refunds.values())

    def page_webhook(self, url: str) -> tuple[bytes, dict[str, str]]:
        [link] = [k for k in self.fake.links.values() if k["link_url"] == url]
        return self._link_event(self.fake.pay(link["link_id"]), self.client_secret)

    def disputes(self, payment: dict) -> list[tuple[bytes, dict[str, str]]]:
        """Cashfree's dispute webhooks name the order that paid the link: opened, under review, then lost."""
        link_id, dispute_id = payment["provider_payment_id"], self.fake.next_id()
        return [self.fake.signed(self.client_secret, event, self.fake.dispute(link_id, status, dispute_id=dispute_id))
                for event, status in (("DISPUTE_CREATED", "CHARGEBACK_CREATED"),
                                      ("DISPUTE_UPDATED", "CHARGEBACK_UNDER_REVIEW"),
                                      ("DISPUTE_CLOSED", "CHARGEBACK_MERCHANT_LOST"))]


class TapDriver(Driver):
    """Tap: a merchant-initiated charge of the newest saved card (token + payment agreement); KWD, three decimals."""

    provider_type = "tap"
    currency = "KWD"
    looks_up_by_reference = False  # the charger repeats the call with the same `reference.idempotent`

    def __init__(self, fake: FakeTap) -> None:
        self.fake = fake
        self.secret_key = f"sk_test_{uuid.uuid4().hex}"

    def connection(self, code: str) -> dict[str, Any]:
        return {"provider_type": "tap", "code": code, "name": "Tap", "secret_key": self.secret_key,
                "webhook_url": "https://billing.acme.test/hooks/tap"}

    def customer(self, email: str, behaviour: str | None) -> str:
        customer = self.fake.add_customer(email)
        if behaviour:
            self.fake.add_card(customer, behaviour)
        return customer

    def charges(self, provider_customer_id: str, email: str) -> list[int]:
        return [int(c["amount"] * 1000) for c in self.fake.charges(provider_customer_id)]

    def add_method(self, provider_customer_id: str, behaviour: str) -> None:
        self.fake.add_card(provider_customer_id, behaviour)

    def charge_webhook(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        return self.fake.signed(self.secret_key, self.fake.charges_by_id[payment["provider_payment_id"]])

    def forged(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        claimed = {**self.fake.charges_by_id[payment["provider_payment_id"]], "status": "CAPTURED"}
        return self.fake.signed(f"sk_test_{uuid.uuid4().hex}", claimed)

    @staticmethod
    def tamper(body: bytes) -> bytes:  # Tap signs some fields, not the bytes: change the amount
        assert b'"amount": ' in body
        return body.replace(b'"amount": ', b'"amount": 9', 1)

    def authenticate(self, payment: dict) -> None:
        self.fake.complete_authentication(payment["provider_payment_id"])

    def settle_refund(self, provider_refund_id: str) -> tuple[bytes, dict[str, str]] | None:
        return self.fake.signed(self.secret_key, self.fake.settle_refund(provider_refund_id))

    def refunded(self) -> int:
        return sum(int(r["amount"] * 1000) for r in self.fake.refunds.values())

    def page_webhook(self, url: str) -> tuple[bytes, dict[str, str]]:
        return self.fake.signed(self.secret_key, self.fake.pay_page(url))

    def complete_setup(self, url: str) -> list[tuple[bytes, dict[str, str]]]:
        """A small customer-present charge with `save_card`: Tap keeps the card."""
        return [self.page_webhook(url)]


class MoneyhashDriver(Driver):
    """MoneyHash: a merchant-initiated intent on the newest card token (Lago's MIT call)."""

    provider_type = "moneyhash"
    currency = "USD"
    looks_up_by_reference = False  # the charger repeats the call with the same `X-Idempotency-Key`

    def __init__(self, fake: FakeMoneyhash) -> None:
        self.fake = fake
        self.signature_key = uuid.uuid4().hex

    def connection(self, code: str) -> dict[str, Any]:
        return {"provider_type": "moneyhash", "code": code, "name": "MoneyHash", "api_key": uuid.uuid4().hex,
                "flow_id": "xgXlXgX", "signature_key": self.signature_key,
                "webhook_url": "https://billing.acme.test/hooks/moneyhash"}

    def customer(self, email: str, behaviour: str | None) -> str:
        customer = self.fake.add_customer(email)
        if behaviour:
            self.fake.add_card(customer, behaviour)
        return customer

    def charges(self, provider_customer_id: str, email: str) -> list[int]:
        return [int(i["amount"] * 100) for i in self.fake.charges(provider_customer_id)]

    def add_method(self, provider_customer_id: str, behaviour: str) -> None:
        self.fake.add_card(provider_customer_id, behaviour)

    def charge_webhook(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        return self.fake.signed(self.signature_key, self.fake.transaction_event(payment["provider_payment_id"]))

    def forged(self, payment: dict) -> tuple[bytes, dict[str, str]]:
        claimed = {**self.fake.transaction_event(payment["provider_payment_id"]),
                   "type": "transaction.purchase.successful"}
        return self.fake.signed(uuid.uuid4().hex, claimed)

    def authenticate(self, payment: dict) -> None:
        self.fake.complete_authentication(payment["provider_payment_id"])

    def settle_refund(self, provider_refund_id: str) -> tuple[bytes, dict[str, str]] | None:
        self.fake.settle_refund(provider_refund_id)
        return self.fake.signed(self.signature_key, self.fake.refund_event(provider_refund_id))

    def refunded(self) -> int:
        return sum(int(r["amount"]["value"] * 100) for r in self.fake.refunds.values())

    def page_webhook(self, url: str) -> tuple[bytes, dict[str, str]]:
        intent = self.fake.pay_page(url)
        return self.fake.signed(self.signature_key, self.fake.intent_event(intent["id"]))


DRIVERS = {"paystack": PaystackDriver, "flutterwave": FlutterwaveDriver, "adyen": AdyenDriver,
           "gocardless": GoCardlessDriver, "cashfree": CashfreeDriver,
           "tap": TapDriver, "moneyhash": MoneyhashDriver}


class ProviderStage(Stage):
    def __init__(self, service, org, driver) -> None:
        super().__init__(service, org, None, None)
        self.driver = driver
        self.provider_code = f"{driver.provider_type}_{uuid.uuid4().hex[:6]}"

    async def customer(self, *, card: str | None = "ok", **kwargs) -> dict:
        return await super().customer(card=card, **kwargs)

    async def connect(self) -> dict:
        return (await self.ok("POST", "/api/v1/payment_providers",
                              {"payment_provider": self.driver.connection(self.provider_code)}))["payment_provider"]

    def customer_event(self, *, card: str | None = "ok", provider: bool = True, linked: bool = True,
                       external_id: str | None = None) -> tuple[dict, EventEnvelope]:
        external_id = external_id or f"cus_{uuid.uuid4().hex[:8]}"
        email = f"{external_id}@acme.test"
        provider_customer_id = self.driver.customer(email, card) if linked else None
        obj = customer_object(external_id, lago_id=uuid.uuid4(), provider_code=self.provider_code,
                              provider_customer_id=provider_customer_id, email=email)
        obj["billing_configuration"]["payment_provider"] = self.driver.provider_type
        obj["currency"] = self.driver.currency
        envelope = EventEnvelope(type="customer.created", source="subscriptions", organization_id=self.org,
                                 aggregate_type="customer", aggregate_id=obj["lago_id"], sequence=1,
                                 data={"customer": obj})
        return {**obj, "provider_customer_id": provider_customer_id}, envelope

    def invoice_event(self, customer: dict, amount_cents: int, **kwargs) -> EventEnvelope:
        envelope = super().invoice_event(customer, amount_cents, **kwargs)
        envelope.data["invoice"]["currency"] = self.driver.currency
        return envelope

    def charges(self, customer: dict) -> list[int]:
        return self.driver.charges(customer["provider_customer_id"], customer["email"])

    async def settle(self, *payment_ids: uuid.UUID) -> None:
        """Post the webhooks that settle charges the provider answered `processing` (none for card providers)."""
        for payment_id in payment_ids:
            for body, headers in self.driver.settle(await self.payment(payment_id)):
                response = await self.webhook(body, headers)
                assert response.status_code == 200, response.text

    async def webhook(self, body: bytes, headers: dict[str, str], code: str | None = None):
        client = self.service.client()
        return await client.post(f"/api/v1/provider_webhooks/{self.driver.provider_type}/{self.org}",
                                 params={"code": code or self.provider_code}, content=body, headers=headers)


@pytest.fixture(params=sorted(DRIVERS))
async def stage(request, payments, org, fakes) -> ProviderStage:
    stage = ProviderStage(payments, org, DRIVERS[request.param](fakes[request.param]))
    await stage.connect()
    return stage


def _runtime(payments):
    return payments.app.state.runtime


async def _run(payments) -> int:
    return await charger.run_once(_runtime(payments), payments.database.sessionmaker)


class ManualClock:
    def __init__(self, moment) -> None:
        self.moment = moment

    def now(self):
        return self.moment


# -- the tests ----------------------------------------------------------------------------------------


async def test_a_finalized_invoice_is_charged_once(payments, stage):
    customer = await stage.customer()
    invoice_id, payment_id = await stage.finalize(customer, 12_345)
    await _run(payments)
    await stage.settle(payment_id)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded" and payment["amount_cents"] == 12_345
    assert payment["payment_provider_type"] == stage.driver.provider_type and payment["provider_payment_id"]
    assert stage.charges(customer) == [12_345]
    assert [e["type"] for e in await stage.events("payment.created", "payment.succeeded")] == [
        "payment.created", "payment.succeeded"]
    assert await _run(payments) == 0
    assert stage.charges(customer) == [12_345]


@pytest.mark.parametrize("behaviour", ["insufficient_funds", "stolen"])
async def test_a_decline_fails_the_payment_with_its_category(payments, stage, behaviour):
    code, category = stage.driver.declines[behaviour]
    customer = await stage.customer(card=behaviour)
    _, payment_id = await stage.finalize(customer, 2_000)
    await _run(payments)
    await stage.settle(payment_id)
    payment = await stage.payment(payment_id)
    if stage.driver.hosted:  # a decline on the provider's page leaves the page payable: nothing failed, nothing taken
        assert payment["payment_status"] == "requires_action" and payment["next_action"]["url"]
        assert await stage.events("payment.failed") == [] and stage.charges(customer) == []
        return
    assert payment["payment_status"] == "failed"
    assert payment["failure"]["code"] == code and payment["failure"]["category"] == category
    failed = await stage.events("payment.failed")
    assert len(failed) == 1 and failed[0]["data"]["payment"]["failure"]["category"] == category
    assert stage.charges(customer) == []


async def test_a_customer_without_a_card_fails_hard_and_nothing_is_charged(payments, stage):
    if stage.driver.hosted:
        pytest.skip(f"{stage.driver.provider_type} charges through a page: no saved card is needed")
    customer = await stage.customer(card=None)
    _, payment_id = await stage.finalize(customer, 2_000)
    await _run(payments)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "failed" and payment["failure"]["category"] == "hard"
    assert payment["failure"]["code"] == "no_payment_method"


async def test_authentication_asks_for_action_and_the_webhook_completes_it_once(payments, stage):
    if not stage.driver.authenticates:
        pytest.skip(f"{stage.driver.provider_type} has no per-payment authentication")
    customer = await stage.customer(card="needs_authentication")
    _, payment_id = await stage.finalize(customer, 2_500)
    await _run(payments)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "requires_action"
    assert payment["next_action"]["url"].startswith("http://127.0.0.1")
    assert stage.charges(customer) == []
    stage.driver.authenticate(payment)  # the customer authenticates on the provider's page
    body, headers = stage.driver.charge_webhook(payment)
    applied = await stage.webhook(body, headers)
    assert applied.status_code == 200 and applied.json()["outcome"] == "applied"
    assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    again = await stage.webhook(body, headers)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert [e["data"]["payment"]["lago_id"] for e in await stage.events("payment.succeeded")] == [str(payment_id)]
    assert stage.charges(customer) == [2_500]


async def test_a_webhook_that_does_not_verify_is_refused_and_changes_nothing(payments, stage):
    customer = await stage.customer(card="needs_authentication" if stage.driver.authenticates else "ok")
    _, payment_id = await stage.finalize(customer, 1_000)
    await _run(payments)
    payment = await stage.payment(payment_id)
    before = payment["payment_status"]
    assert before in {"requires_action", "processing"}
    if stage.driver.authenticates:
        stage.driver.authenticate(payment)
    body, headers = stage.driver.forged(payment)
    refused = await stage.webhook(body, headers)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_webhook_signature"
    genuine_body, genuine_headers = stage.driver.charge_webhook(payment)
    if stage.driver.signs_the_body:  # Flutterwave's `verif-hash` is a shared secret in clear: it signs nothing
        tampered = await stage.webhook(stage.driver.tamper(genuine_body), genuine_headers)
        assert tampered.status_code == 400 and tampered.json()["code"] == "invalid_webhook_signature"
    unsigned = await stage.webhook(*stage.driver.unsigned(genuine_body, genuine_headers))
    assert unsigned.status_code == 400 and unsigned.json()["code"] == "invalid_webhook_signature"
    unknown = await stage.webhook(genuine_body, genuine_headers, code="no_such_connection")
    assert unknown.status_code == 404
    assert (await stage.payment(payment_id))["payment_status"] == before
    assert await stage.events("payment.succeeded") == []


async def test_a_late_webhook_and_its_redelivery_change_nothing(payments, stage):
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 6_000)
    await _run(payments)
    await stage.settle(payment_id)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded"
    body, headers = stage.driver.charge_webhook(payment)
    first = await stage.webhook(body, headers)
    assert first.status_code == 200 and first.json()["outcome"] == "no_change"
    again = await stage.webhook(body, headers)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert len(await stage.events("payment.succeeded")) == 1
    assert stage.charges(customer) == [6_000]


async def _refund(stage, payment_id: uuid.UUID, **fields) -> dict:
    client = stage.service.client(stage.org, roles=["billing_admin"])
    body = {"refund": {"reason": "duplicate order", "idempotency_key": f"rf-{uuid.uuid4().hex}", **fields}}
    response = await client.post(f"/api/v1/payments/{payment_id}/refunds", json=body)
    assert response.status_code == 200, response.text
    return response.json()["refund"]


async def test_a_partial_then_a_full_refund_reach_the_provider_once(payments, stage):
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 5_000)
    await _run(payments)
    await stage.settle(payment_id)
    before = stage.driver.refunded()
    first = await _refund(stage, payment_id, amount_cents=1_500)
    await refunds.run_once(_runtime(payments), payments.database.sessionmaker)
    rest = await _refund(stage, payment_id)
    await refunds.run_once(_runtime(payments), payments.database.sessionmaker)
    await refunds.run_once(_runtime(payments), payments.database.sessionmaker)  # nothing left to send
    assert stage.driver.refunded() - before == 5_000
    for refund in (first, rest):
        shown = (await stage.ok("GET", f"/api/v1/refunds/{refund['lago_id']}"))["refund"]
        assert shown["provider_refund_id"]
        settled = stage.driver.settle_refund(shown["provider_refund_id"])
        if settled is not None:  # settled later, by webhook
            assert shown["status"] == "pending"
            response = await stage.webhook(*settled)
            assert response.status_code == 200 and response.json()["outcome"] != "duplicate", response.text
            assert (await stage.webhook(*settled)).json()["outcome"] == "duplicate"
        shown = (await stage.ok("GET", f"/api/v1/refunds/{refund['lago_id']}"))["refund"]
        assert shown["status"] == "succeeded"
    assert sorted(e["type"] for e in await stage.events("refund.succeeded", "refund.failed")) == [
        "refund.succeeded", "refund.succeeded"]


async def test_a_pending_refund_whose_webhook_never_came_is_settled_by_the_reconciler_once(payments, stage):
    """The provider answered the refund `pending`, settled it later, and its webhook was lost: the refund reconciler
    reads it back (by the provider's refund id, or by our reference) and settles it once; the webhook arriving after
    that changes nothing (`no_change`, no second `refund.succeeded`)."""
    from payments.refunds import reconciler as refund_reconciler

    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 5_000)
    await _run(payments)
    await stage.settle(payment_id)
    refund = await _refund(stage, payment_id, amount_cents=2_000)
    runtime, sessionmaker = _runtime(payments), payments.database.sessionmaker
    await refunds.run_once(runtime, sessionmaker)
    shown = (await stage.ok("GET", f"/api/v1/refunds/{refund['lago_id']}"))["refund"]
    if shown["status"] != "pending":
        pytest.skip(f"{stage.driver.provider_type} settles a refund in its answer")
    late = stage.driver.settle_refund(shown["provider_refund_id"])  # settled at the provider; the webhook is lost
    previous = runtime.settings
    try:
        runtime.settings = previous.model_copy(update={"reconcile_after_seconds": 3600})
        assert await refund_reconciler.run_once(runtime, sessionmaker) == {}  # too early: the webhook has time
        runtime.settings = previous.model_copy(update={"reconcile_after_seconds": 0})
        outcomes = await refund_reconciler.run_once(runtime, sessionmaker)
        shown = (await stage.ok("GET", f"/api/v1/refunds/{refund['lago_id']}"))["refund"]
        if not stage.driver.reads_refunds:  # said in docs/payments.md: only the webhook settles it there
            assert outcomes == {"not_found": 1} and shown["status"] == "pending"
            response = await stage.webhook(*late)
            assert response.json()["outcome"] == "applied"
            assert len(await stage.events("refund.succeeded")) == 1
            return
        assert outcomes == {"settled:succeeded": 1}, outcomes
        assert shown["status"] == "succeeded"
        assert [a["action"] for a in shown["audit"]] == ["refund.requested", "refund.succeeded"]
        assert shown["audit"][-1]["actor"] == "reconciler"
        assert await refund_reconciler.run_once(runtime, sessionmaker) == {}  # settled: not looked up again
    finally:
        runtime.settings = previous
    response = await stage.webhook(*late)  # the lost webhook arrives after all
    assert response.status_code == 200 and response.json()["outcome"] in {"no_change", "ignored"}, response.text
    assert [e["data"]["refund"]["lago_id"] for e in await stage.events("refund.succeeded")] == [refund["lago_id"]]
    assert stage.driver.refunded() >= 2_000


async def test_a_crash_after_the_call_is_reconciled_by_reference_without_a_second_charge(payments, stage):
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 4_200)
    runtime = _runtime(payments)
    sessionmaker = payments.database.sessionmaker
    now = runtime.clock.now()
    async with sessionmaker() as session:  # the crashed process claimed, marked the call, called, and died
        claimed = await repository.claim_due(session, now, now + timedelta(seconds=30), 100)
        lease = next(r["lease_until"] for r in claimed if r["id"] == payment_id)
        assert await repository.mark_called(session, payment_id, lease, amount_cents=4_200,
                                            provider_customer_id=customer["provider_customer_id"])
        payment = await repository.lock(session, payment_id)
        await session.commit()
    adapter = runtime.adapters.for_connection(await _connection(payments, payment["payment_provider_id"]))
    await adapter.charge(ChargeRequest(reference=payment["reference"], idempotency_key=payment["idempotency_key"],
                                       amount_cents=4_200, currency=stage.driver.currency,
                                       provider_customer_id=customer["provider_customer_id"]))
    # a hosted provider takes the money when the customer pays the page `settle` opens below
    assert stage.charges(customer) == ([] if stage.driver.hosted else [4_200])
    original = runtime.clock
    runtime.clock = ManualClock(now + timedelta(seconds=31))  # the lease runs out; the next claimer looks it up
    try:
        await _run(payments)
    finally:
        runtime.clock = original
    await stage.settle(payment_id)
    assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    assert stage.charges(customer) == [4_200]


class LostAnswer:
    """The provider takes the charge, but the first answer never comes back (later ones do)."""

    lost: set[str] = set()  # the references whose first answer was lost

    def __init__(self, adapter) -> None:
        self._adapter = adapter
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    async def charge(self, request):
        self.calls += 1
        result = await self._adapter.charge(request)
        if request.reference not in self.lost:
            self.lost.add(request.reference)
            raise ProviderUnreachable("read timeout")
        return result


async def test_a_lost_answer_is_reconciled_by_looking_the_charge_up(payments, stage):
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 3_100)
    runtime = _runtime(payments)
    factory = runtime.adapters
    wrappers: list[LostAnswer] = []

    class Factory:
        def for_connection(self, connection):
            wrappers.append(LostAnswer(factory.for_connection(connection)))
            return wrappers[-1]

    runtime.adapters = Factory()
    try:
        await _run(payments)
        assert (await stage.payment(payment_id))["payment_status"] == "pending"
        original = runtime.clock
        runtime.clock = ManualClock(original.now() + timedelta(seconds=5))
        try:
            await _run(payments)
        finally:
            runtime.clock = original
    finally:
        runtime.adapters = factory
    await stage.settle(payment_id)
    assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    # a provider with a look-up is asked, not called again; one without gets the same call with the same key
    assert sum(w.calls for w in wrappers) == (1 if stage.driver.looks_up_by_reference else 2)
    assert stage.charges(customer) == [3_100]


async def test_concurrent_chargers_send_one_charge_each(payments, stage):
    customer = await stage.customer()
    ids = [(await stage.finalize(customer, 100 + i))[1] for i in range(5)]
    await asyncio.gather(*(_run(payments) for _ in range(4)))
    await stage.settle(*ids)
    for payment_id in ids:
        assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    assert sorted(stage.charges(customer)) == [100, 101, 102, 103, 104]


async def test_a_replayed_finalized_event_charges_once(payments, stage):
    customer = await stage.customer()
    envelope = stage.invoice_event(customer, 5_000)
    first = await stage.apply_invoice_event(envelope)
    replay = stage.invoice_event(customer, 5_000, invoice_id=uuid.UUID(envelope.aggregate_id), sequence=2)
    assert await stage.apply_invoice_event(envelope) is None
    assert await stage.apply_invoice_event(replay) is None
    await _run(payments)
    await stage.settle(first)
    assert (await stage.payment(first))["payment_status"] == "succeeded"
    assert stage.charges(customer) == [5_000]


async def _connection(payments, provider_id):
    from payments.payment_providers.models import PaymentProvider

    async with payments.database.sessionmaker() as session:
        provider = await session.get(PaymentProvider, provider_id)
        return {"id": provider.id, "provider_type": provider.provider_type, "secret_key": provider.secret_key,
                "webhook_secret": provider.webhook_secret, "settings": provider.settings,
                "updated_at": provider.updated_at}


async def test_payment_methods_are_read_from_the_provider(payments, stage):
    customer = await stage.customer()
    url = f"/api/v1/customers/{customer['external_id']}/payment_methods"
    listed = await stage.ok("GET", url)
    if stage.driver.hosted:  # Cashfree: the token vault's saved cards, listed and deleted, never charged
        from payments.providers.cashfree import instrument_customer_id

        assert listed["meta"]["total_count"] == 0 and listed["payment_methods"] == []
        vault_id = instrument_customer_id(customer["provider_customer_id"])
        older = stage.driver.fake.save_card(vault_id, last4="1111")
        newer = stage.driver.fake.save_card(vault_id, last4="4242", network="MASTERCARD")
        stage.driver.fake.save_card(instrument_customer_id("someone-else@acme.test"))  # another customer's
        listed = (await stage.ok("GET", url))["payment_methods"]
        assert sorted((m["provider_method_id"], m["last4"], m["is_default"]) for m in listed) == sorted([
            (newer, "4242", False), (older, "1111", False)])  # only this customer's, none the default
        assert {m["brand"] for m in listed} == {"visa", "mastercard"}
        refused = await stage.error("PUT", f"{url}/{listed[0]['lago_id']}/set_as_default", status=400)
        assert refused["code"] == "payment_provider_error"
        [deleted] = [m for m in listed if m["provider_method_id"] == older]
        await stage.ok("DELETE", f"{url}/{deleted['lago_id']}")
        assert [m["provider_method_id"] for m in (await stage.ok("GET", url))["payment_methods"]] == [newer]
        await stage.error("DELETE", f"{url}/{deleted['lago_id']}", status=404)
        # saved cards are never charged: an invoice is still a payment link
        _, payment_id = await stage.finalize(customer, 1_900)
        await _run(payments)
        assert (await stage.payment(payment_id))["payment_status"] == "requires_action"
        return
    assert listed["meta"]["total_count"] == 1
    [method] = listed["payment_methods"]
    assert method["is_default"] and method["last4"] and method["payment_provider_type"] == stage.driver.provider_type
    # none of these providers keeps a default of its own: asking to change it is refused, nothing changes
    refused = await stage.error("PUT", f"{url}/{method['lago_id']}/set_as_default", status=400)
    assert refused["code"] == "payment_provider_error"
    assert (await stage.ok("GET", url))["payment_methods"] == listed["payment_methods"]
    if stage.driver.deletes_methods:  # Paystack deactivates the authorization, GoCardless cancels the mandate,
        # Adyen deletes the stored token, Tap the saved card, MoneyHash the card token
        await stage.ok("DELETE", f"{url}/{method['lago_id']}")
        assert (await stage.ok("GET", url))["meta"]["total_count"] == 0
    else:  # Flutterwave cannot delete a token: said so, nothing changed
        assert (await stage.error("DELETE", f"{url}/{method['lago_id']}", status=400))["code"] == \
            "payment_provider_error"
        assert (await stage.ok("GET", url))["payment_methods"] == listed["payment_methods"]


async def test_deleting_the_default_method_makes_the_next_newest_the_one_charged(payments, stage):
    """Two methods at the provider, the newest (the default) declines: deleting it at the provider through Lago's
    route leaves the older one, now shown as the default, and the next charge takes it once."""
    if not stage.driver.deletes_methods or stage.driver.hosted:
        pytest.skip(f"{stage.driver.provider_type} removes no method")
    customer = await stage.customer(card="ok")
    stage.driver.add_method(customer["provider_customer_id"], "insufficient_funds")  # the newest: the default
    url = f"/api/v1/customers/{customer['external_id']}/payment_methods"
    listed = (await stage.ok("GET", url))["payment_methods"]
    assert len(listed) == 2
    [default] = [m for m in listed if m["is_default"]]
    [older] = [m for m in listed if not m["is_default"]]
    other = await stage.customer(card="ok")  # another customer's method is not this customer's to delete
    other_url = f"/api/v1/customers/{other['external_id']}/payment_methods"
    [theirs] = (await stage.ok("GET", other_url))["payment_methods"]
    await stage.error("DELETE", f"{url}/{theirs['lago_id']}", status=404)
    await stage.error("DELETE", f"{url}/{uuid.uuid4()}", status=404)
    assert [m["lago_id"] for m in (await stage.ok("GET", other_url))["payment_methods"]] == [theirs["lago_id"]]
    deleted = await stage.ok("DELETE", f"{url}/{default['lago_id']}")
    assert deleted["payment_method"]["lago_id"] == default["lago_id"]
    after = (await stage.ok("GET", url))["payment_methods"]
    assert [(m["lago_id"], m["is_default"]) for m in after] == [(older["lago_id"], True)]
    await stage.error("DELETE", f"{url}/{default['lago_id']}", status=404)  # gone: nothing to delete twice
    _, payment_id = await stage.finalize(customer, 2_700)
    await _run(payments)
    await stage.settle(payment_id)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded", payment
    assert stage.charges(customer) == [2_700]


async def test_a_charge_settled_without_its_webhook_is_found_by_the_reconciler(payments, stage):
    if not stage.driver.reconciles:
        pytest.skip("Adyen has no look-up: only its webhook settles a payment")
    customer = await stage.customer(card="needs_authentication" if stage.driver.authenticates else "ok")
    _, payment_id = await stage.finalize(customer, 3_300)
    await _run(payments)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] in {"requires_action", "processing"}
    stage.driver.settle_silently(payment)
    runtime = _runtime(payments)
    previous = runtime.settings
    runtime.settings = previous.model_copy(update={"reconcile_after_seconds": 0})
    try:
        await reconciler.run_once(runtime, payments.database.sessionmaker)
        assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
        await reconciler.run_once(runtime, payments.database.sessionmaker)
    finally:
        runtime.settings = previous
    assert [e["data"]["payment"]["lago_id"] for e in await stage.events("payment.succeeded")] == [str(payment_id)]
    assert stage.charges(customer) == [3_300]


async def test_an_invoice_paid_on_the_providers_hosted_page_is_recorded_once(payments, stage):
    customer = await stage.customer(card=None)  # nothing to charge off-session: the charge fails, the invoice is due
    invoice_id, payment_id = await stage.finalize(customer, 7_700)
    await _run(payments)
    if stage.driver.hosted:  # the charge's own link expires unpaid: the invoice is due again
        link = stage.driver.fake.expire(str(payment_id))
        assert (await stage.webhook(*stage.driver.fake.signed(stage.driver.client_secret, "PAYMENT_LINK_EVENT",
                                                              link))).json()["outcome"] == "applied"
    assert (await stage.payment(payment_id))["payment_status"] == "failed"
    if stage.driver.provider_type == "cashfree":
        url = (await stage.ok("POST", f"/api/v1/invoices/{invoice_id}/payment_url"))["invoice_payment_details"][
            "payment_url"]
        [link] = [k for k in stage.driver.fake.links.values() if k["link_url"] == url]
        assert link["link_amount"] == 77 and link["link_meta"]["return_url"] == "https://acme.test/paid"
        body, headers = stage.driver.fake.signed(stage.driver.client_secret, "PAYMENT_LINK_EVENT",
                                                 stage.driver.fake.pay(link["link_id"]))
        assert (await stage.webhook(body, headers)).json()["outcome"] == "recorded"
        assert (await stage.webhook(body, headers)).json()["outcome"] == "duplicate"
        listed = await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}")
        paid = [p for p in listed["payments"] if p["payment_status"] == "succeeded"]
        assert [(p["amount_cents"], p["provider_payment_id"]) for p in paid] == [(7_700, link["link_id"])]
        assert stage.charges(customer) == [7_700]
        return
    if stage.driver.provider_type == "tap":  # Tap's hosted page is a customer-present charge (`src_all`)
        url = (await stage.ok("POST", f"/api/v1/invoices/{invoice_id}/payment_url"))["invoice_payment_details"][
            "payment_url"]
        charge = stage.driver.fake.pay_page(url)
        assert charge["customer_initiated"] and charge["amount"] == Decimal("7.7")
        body, headers = stage.driver.fake.signed(stage.driver.secret_key, charge)
        assert (await stage.webhook(body, headers)).json()["outcome"] == "recorded"
        assert (await stage.webhook(body, headers)).json()["outcome"] == "duplicate"
        listed = await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}")
        paid = [p for p in listed["payments"] if p["payment_status"] == "succeeded"]
        assert [(p["amount_cents"], p["provider_payment_id"]) for p in paid] == [(7_700, charge["id"])]
        return
    if stage.driver.provider_type == "moneyhash":  # MoneyHash's embedded page for a customer-present intent
        url = (await stage.ok("POST", f"/api/v1/invoices/{invoice_id}/payment_url"))["invoice_payment_details"][
            "payment_url"]
        intent = stage.driver.fake.pay_page(url)
        assert not intent["merchant_initiated"] and intent["amount"] == Decimal("77")
        assert intent["custom_fields"]["invora_invoice_id"] == str(invoice_id)
        body, headers = stage.driver.fake.signed(stage.driver.signature_key,
                                                 stage.driver.fake.intent_event(intent["id"]))
        assert (await stage.webhook(body, headers)).json()["outcome"] == "recorded"
        assert (await stage.webhook(body, headers)).json()["outcome"] == "duplicate"
        listed = await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}")
        paid = [p for p in listed["payments"] if p["payment_status"] == "succeeded"]
        assert [(p["amount_cents"], p["provider_payment_id"]) for p in paid] == [(7_700, intent["id"])]
        assert stage.charges(customer) == [7_700]
        return
    if not hasattr(stage.driver, "page_webhook"):
        refused = await stage.error("POST", f"/api/v1/invoices/{invoice_id}/payment_url", status=400)
        assert refused["code"] == "payment_provider_error"  # not built for this provider: said so, nothing made
        return
    url = (await stage.ok("POST", f"/api/v1/invoices/{invoice_id}/payment_url"))["invoice_payment_details"][
        "payment_url"]
    body, headers = stage.driver.page_webhook(url)  # the customer pays on the provider's page
    assert (await stage.webhook(body, headers)).json()["outcome"] == "recorded"
    assert (await stage.webhook(body, headers)).json()["outcome"] == "duplicate"
    listed = await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}")
    paid = [p for p in listed["payments"] if p["payment_status"] == "succeeded"]
    assert [p["amount_cents"] for p in paid] == [7_700] and paid[0]["provider_payment_id"]
    assert stage.charges(customer) == [7_700]


async def test_a_dispute_at_the_provider_is_recorded_on_the_payment_once(payments, stage):
    if not hasattr(stage.driver, "disputes"):  # Tap's and MoneyHash's documented webhooks carry no dispute
        pytest.skip(f"{stage.driver.provider_type}: its API documents no dispute or chargeback webhook")
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 4_400)
    await _run(payments)
    await stage.settle(payment_id)
    payment = await stage.payment(payment_id)
    for body, headers in stage.driver.disputes(payment):
        applied = await stage.webhook(body, headers)
        assert applied.status_code == 200 and applied.json()["outcome"] == "applied", applied.text
        assert (await stage.webhook(body, headers)).json()["outcome"] == "duplicate"
    dispute = (await stage.payment(payment_id))["dispute"]
    assert dispute["status"] == "lost" and dispute["lost_at"] and dispute["opened_at"]
    events = await stage.events("payment.dispute_opened", "payment.dispute_won", "payment.dispute_lost")
    assert sorted(e["type"] for e in events) == ["payment.dispute_lost", "payment.dispute_opened"]


async def test_a_manual_wallet_top_up_is_paid_once_on_the_providers_page(payments, stage):
    """Lago's `POST /wallet_transactions/{id}/payment_url` for a top-up wallets asked with `payment_method_type:
    manual`: the provider's page, recorded once from its webhook (the answer to wallets). (A provider refusing the
    page: `test_wallet_topups.py::test_a_page_the_provider_refuses_leaves_nothing_behind`.)"""
    from payments.wallet_topups import repository as topups_repository
    from payments.wallet_topups import service as topups

    customer = await stage.customer(card=None)
    transaction_id = uuid.uuid4()
    envelope = EventEnvelope(
        type="wallet_transaction.payment_requested", source="wallets", organization_id=stage.org,
        aggregate_type="wallet_transaction", aggregate_id=str(transaction_id), sequence=1, data={
            "lago_wallet_transaction_id": str(transaction_id), "lago_wallet_id": str(uuid.uuid4()),
            "lago_customer_id": customer["lago_id"], "external_customer_id": customer["external_id"],
            "amount_cents": 7_700, "currency": stage.driver.currency, "description": "Purchased credits",
            "manual": True})
    async with payments.database.sessionmaker() as session:
        await topups.record_request(session, envelope, _runtime(payments).clock.now())
        await session.commit()

    async def topup() -> dict:
        async with payments.database.sessionmaker() as session:
            return dict(await topups_repository.by_transaction(session, stage.org, transaction_id))

    url = f"/api/v1/wallet_transactions/{transaction_id}/payment_url"
    details = (await stage.ok("POST", url))["wallet_transaction_payment_details"]
    assert details["payment_provider"] == stage.driver.provider_type
    assert (await stage.ok("POST", url))["wallet_transaction_payment_details"] == details  # one page
    body, headers = stage.driver.page_webhook(details["payment_url"])
    assert (await stage.webhook(body, headers)).json()["outcome"] == "recorded"
    assert (await stage.webhook(body, headers)).json()["outcome"] == "duplicate"
    settled = await topup()
    assert settled["status"] == "succeeded" and settled["provider_payment_id"]
    answers = await stage.events("wallet_topup_payment.succeeded", "wallet_topup_payment.failed")
    assert [(e["type"], e["data"]["wallet_topup_payment"]["amount_cents"]) for e in answers] == [
        ("wallet_topup_payment.succeeded", 7_700)]
    assert stage.charges(customer) == [7_700]
    assert await stage.events("payment.succeeded") == []  # a top-up, not an invoice payment
    assert (await stage.error("POST", url))["error_details"] == {"base": ["wallet_transaction_not_payable"]}


async def test_a_hosted_payment_event_without_its_amount_records_nothing(payments, stage):
    """GoCardless's events name no amount: a page's payment is recorded with the amount its metadata carries, and
    an event without it (forged metadata cannot be: the body is signed) records nothing rather than a zero."""
    if stage.driver.provider_type != "gocardless":
        pytest.skip("only GoCardless's events carry no amount")
    customer = await stage.customer(card=None)
    invoice_id, _ = await stage.finalize(customer, 5_100)
    await _run(payments)
    url = (await stage.ok("POST", f"/api/v1/invoices/{invoice_id}/payment_url"))["invoice_payment_details"][
        "payment_url"]
    event = stage.driver.fake.pay_flow(url)
    assert event["resource_metadata"]["invora_amount_cents"] == "5100"
    del event["resource_metadata"]["invora_amount_cents"]
    body, headers = stage.driver.fake.signed(stage.driver.webhook_secret, [event])
    assert (await stage.webhook(body, headers)).json()["outcome"] == "not_settled"
    listed = await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}")
    assert [p for p in listed["payments"] if p["payment_status"] == "succeeded"] == []


async def test_the_checkout_url_keeps_the_method_the_next_charge_takes(payments, stage):
    """Lago's `checkout_url`: the provider's page where the customer adds a payment method (Paystack's and
    Flutterwave's small card payment, Adyen's zero-value payment link storing the card, GoCardless's billing request
    flow with a mandate request, Tap's `save_card` charge). Completed at the fake, the method is listed as the
    default and the next invoice is charged on it once; the page's own payment is no invoice's payment."""
    if stage.driver.provider_type == "moneyhash":
        pytest.skip("MoneyHash: test_moneyhash_s_checkout_url_tokenizes_the_card_the_next_charge_uses")
    customer = await stage.customer(card=None)
    url = f"/api/v1/customers/{customer['external_id']}/checkout_url"
    if stage.driver.hosted:  # Cashfree keeps no method to set up: refused, nothing made
        refused = await stage.error("POST", url, status=400)
        assert refused["code"] == "payment_provider_error"
        return
    answer = (await stage.ok("POST", url))["customer"]
    assert answer["payment_provider"] == stage.driver.provider_type and answer["checkout_url"]
    methods_url = f"/api/v1/customers/{customer['external_id']}/payment_methods"
    assert (await stage.ok("GET", methods_url))["payment_methods"] == []
    for body, headers in stage.driver.complete_setup(answer["checkout_url"]):
        response = await stage.webhook(body, headers)
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] not in {"recorded", "applied"}, response.text  # no invoice was paid
    [method] = (await stage.ok("GET", methods_url))["payment_methods"]
    assert method["is_default"] and method["payment_provider_type"] == stage.driver.provider_type
    invoice_id, payment_id = await stage.finalize(customer, 2_300)
    await _run(payments)
    await stage.settle(payment_id)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded", payment
    assert stage.charges(customer).count(2_300) == 1
    paid = [p for p in (await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}"))["payments"]
            if p["payment_status"] == "succeeded"]
    assert [p["lago_id"] for p in paid] == [str(payment_id)]


async def test_moneyhash_s_checkout_url_tokenizes_the_card_the_next_charge_uses(payments, stage):
    if stage.driver.provider_type != "moneyhash":
        pytest.skip("MoneyHash's checkout URL (Lago's tokenizing intent)")
    customer = await stage.customer(card=None, linked=False)  # not at MoneyHash yet: created on demand
    answer = (await stage.ok("POST", f"/api/v1/customers/{customer['external_id']}/checkout_url"))["customer"]
    assert answer["payment_provider"] == "moneyhash"
    intent = next(i for i in stage.driver.fake.intents.values() if i["embed_url"] == answer["checkout_url"])
    assert intent["_tokenize_card"] and not intent["merchant_initiated"]
    assert intent["webhook_url"] == "https://billing.acme.test/hooks/moneyhash" and intent["flow"] == "xgXlXgX"
    stage.driver.fake.pay_page(answer["checkout_url"])  # the customer pays the small amount; the card is kept
    methods = await stage.ok("GET", f"/api/v1/customers/{customer['external_id']}/payment_methods")
    assert [(m["last4"], m["is_default"]) for m in methods["payment_methods"]] == [("4242", True)]
    _, payment_id = await stage.finalize(customer, 2_300)
    await _run(payments)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded"
    charged = stage.driver.fake.intents[payment["provider_payment_id"]]
    assert charged["merchant_initiated"] and charged["merchant_reference"] == str(payment_id)


async def test_moneyhash_s_signature_key_is_asked_of_moneyhash_when_not_given(payments, stage):
    """Lago's MoneyHash fields are the API key and the flow: the webhook signature key is read from MoneyHash."""
    if stage.driver.provider_type != "moneyhash":
        pytest.skip("MoneyHash's connection")
    api_key = uuid.uuid4().hex
    created = (await stage.ok("POST", "/api/v1/payment_providers", {"payment_provider": {
        "provider_type": "moneyhash", "code": "mh_lago", "name": "MoneyHash", "api_key": api_key,
        "flow_id": "xgXlXgX"}}))["payment_provider"]
    assert created["has_webhook_secret"]
    event = {"type": "intent.processed", "data": {"intent_id": "unknown1", "intent": {
        "id": "unknown1", "status": "PROCESSED", "amount": 1, "amount_currency": "USD", "custom_fields": {}}}}
    body, headers = stage.driver.fake.signed(stage.driver.fake.signature_key_for(api_key), event)
    accepted = await stage.webhook(body, headers, code="mh_lago")
    assert accepted.status_code == 200 and accepted.json()["outcome"] == "unknown_payment", accepted.text
    forged = await stage.webhook(*stage.driver.fake.signed(uuid.uuid4().hex, event), code="mh_lago")
    assert forged.status_code == 400
    refused = await stage.error("POST", "/api/v1/payment_providers", {"payment_provider": {
        "provider_type": "moneyhash", "code": "mh_revoked", "name": "MoneyHash", "api_key": "revoked-key",
        "flow_id": "xgXlXgX"}}, status=400)
    assert refused["code"] == "payment_provider_error"
    await stage.error("GET", "/api/v1/payment_providers/mh_revoked", status=404)  # nothing was made


def test_cashfree_s_dispute_stages_and_states_map_to_open_won_lost():
    """Cashfree's `dispute_status` is a stage and a state; the merchant accepting a dispute loses it (the customer is
    refunded), and a state we do not know keeps the dispute open rather than deciding it."""
    from payments.providers.cashfree import dispute_info

    def outcome(status: str) -> tuple[str, str]:
        info = dispute_info({"dispute_id": 1, "dispute_status": status, "reason_description": "x" * 300})
        assert info is not None and len(info.reason or "") <= 100 and len(info.status) <= 30
        return info.outcome, info.status

    assert outcome("DISPUTE_CREATED") == ("open", "created")
    assert outcome("CHARGEBACK_INSUFFICIENT_EVIDENCE") == ("open", "insufficient_evidence")
    assert outcome("PRE_ARBITRATION_DOCS_RECEIVED") == ("open", "docs_received")
    assert outcome("ARBITRATION_MERCHANT_WON") == ("won", "merchant_won")
    assert outcome("PRE_ARBITRATION_MERCHANT_LOST") == ("lost", "merchant_lost")
    assert outcome("RETRIEVAL_MERCHANT_ACCEPTED") == ("lost", "merchant_accepted")
    assert outcome("SOMETHING_NEW")[0] == "open"
    assert dispute_info({"dispute_status": "DISPUTE_CREATED"}) is None  # no id: not a dispute we can record


async def test_a_cashfree_dispute_on_an_order_we_never_saw_paid_records_nothing(payments, stage):
    """A dispute names the order that paid a link; the order is learnt from the link's paid `PAYMENT_LINK_EVENT`.
    A dispute on an order we do not know (another account's, or a link settled without its webhook) changes nothing."""
    if stage.driver.provider_type != "cashfree":
        pytest.skip("Cashfree's disputes name its orders")
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 3_100)
    await _run(payments)
    payment = await stage.payment(payment_id)
    stage.driver.settle_silently(payment)  # paid at Cashfree; its webhook is lost; the reconciler settles it
    runtime = _runtime(payments)
    previous = runtime.settings
    runtime.settings = previous.model_copy(update={"reconcile_after_seconds": 0})
    try:
        await reconciler.run_once(runtime, payments.database.sessionmaker)
    finally:
        runtime.settings = previous
    assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    data = stage.driver.fake.dispute(payment["provider_payment_id"], "CHARGEBACK_CREATED")
    body, headers = stage.driver.fake.signed(stage.driver.client_secret, "DISPUTE_CREATED", data)
    response = await stage.webhook(body, headers)
    assert response.status_code == 200 and response.json()["outcome"] == "unknown_payment"
    assert (await stage.payment(payment_id))["dispute"] is None
    # the link's own webhook arrives after all: the order is learnt, and the next dispute webhook is recorded
    link_event = stage.driver.fake.signed(stage.driver.client_secret, "PAYMENT_LINK_EVENT",
                                          stage.driver.fake.links[payment["provider_payment_id"]])
    assert (await stage.webhook(*link_event)).json()["outcome"] == "no_change"
    data = stage.driver.fake.dispute(payment["provider_payment_id"], "CHARGEBACK_MERCHANT_WON")
    response = await stage.webhook(*stage.driver.fake.signed(stage.driver.client_secret, "DISPUTE_CLOSED", data))
    assert response.json()["outcome"] == "applied"
    dispute = (await stage.payment(payment_id))["dispute"]
    assert dispute["status"] == "won" and dispute["lost_at"] is None
    events = await stage.events("payment.dispute_opened", "payment.dispute_won", "payment.dispute_lost")
    assert sorted(e["type"] for e in events) == ["payment.dispute_opened", "payment.dispute_won"]


async def test_a_cashfree_invoice_page_is_replaced_once_expired_and_never_two_are_live(payments, stage):
    """An invoice's Cashfree page is a payment link of the invoice's series: asked again it is the same link; once
    expired a new one is made; a partial payment meanwhile cancels the live one before a new amount's link; a link
    paid whose webhook has not come refuses a new page. At no time are two links of the invoice payable."""
    if stage.driver.provider_type != "cashfree":
        pytest.skip("Cashfree's payment links")
    fake, secret = stage.driver.fake, stage.driver.client_secret
    customer = await stage.customer(card=None)
    invoice_id, payment_id = await stage.finalize(customer, 7_700)
    await _run(payments)
    expired_charge = fake.expire(str(payment_id))  # the charge's own link expires: the invoice is due again
    assert (await stage.webhook(*fake.signed(secret, "PAYMENT_LINK_EVENT", expired_charge))).json()["outcome"] == \
        "applied"
    url = f"/api/v1/invoices/{invoice_id}/payment_url"

    async def page() -> dict:
        page_url = (await stage.ok("POST", url))["invoice_payment_details"]["payment_url"]
        [link] = [k for k in fake.links.values() if k["link_url"] == page_url]
        return link

    def live() -> list[str]:
        return [k["link_id"] for k in fake.links.values()
                if k["link_notes"].get("invora_invoice_id") == str(invoice_id) and k["link_status"] == "ACTIVE"]

    first = await page()
    assert (await page())["link_id"] == first["link_id"] and live() == [first["link_id"]]
    expired = fake.expire(first["link_id"])  # the customer did not pay in time
    outcome = (await stage.webhook(*fake.signed(secret, "PAYMENT_LINK_EVENT", expired))).json()["outcome"]
    assert outcome == "not_settled"
    second = await page()
    assert second["link_id"] != first["link_id"] and second["link_amount"] == 77 and live() == [second["link_id"]]
    await stage.ok("POST", "/api/v1/payments", {"payment": {"invoice_id": str(invoice_id), "amount_cents": 1_000,
                                                            "reference": "wire-1"}})
    third = await page()  # the invoice owes 67 now: the 77 link is cancelled before the new one is made
    assert fake.links[second["link_id"]]["link_status"] == "CANCELLED"
    assert third["link_amount"] == 67 and live() == [third["link_id"]]
    body, headers = fake.signed(secret, "PAYMENT_LINK_EVENT", fake.pay(third["link_id"]))
    assert (await stage.webhook(body, headers)).json()["outcome"] == "recorded"
    assert (await stage.error("POST", url))["error_details"] == {"base": ["invoice_not_payable"]}
    paid = [p for p in (await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}"))["payments"]
            if p["payment_status"] == "succeeded"]
    assert sorted(p["amount_cents"] for p in paid) == [1_000, 6_700]
    assert stage.charges(customer) == [6_700]

    # another invoice: its page is paid at Cashfree, its webhook not recorded yet: no second page is made
    other_invoice, other_payment = await stage.finalize(customer, 2_000)
    await _run(payments)
    assert (await stage.webhook(*fake.signed(secret, "PAYMENT_LINK_EVENT", fake.expire(str(other_payment))))
            ).status_code == 200
    other_url = f"/api/v1/invoices/{other_invoice}/payment_url"
    link = (await stage.ok("POST", other_url))["invoice_payment_details"]["payment_url"]
    [paid_link] = [k for k in fake.links.values() if k["link_url"] == link]
    fake.pay(paid_link["link_id"])
    links_before = len(fake.links)
    refused = await stage.error("POST", other_url, status=400)
    assert refused["code"] == "payment_provider_error" and len(fake.links) == links_before


def test_cashfree_s_vault_customer_id_is_one_per_customer_and_valid_at_cashfree():
    from payments.providers.cashfree import instrument_customer_id

    one, same, other = (instrument_customer_id(e) for e in ("Ana@Acme.test", " ana@acme.test", "ana2@acme.test"))
    assert one == same and one != other  # the e-mail's case and spaces do not matter; two customers never share
    assert one.isalnum() and 3 <= len(one) <= 50  # Cashfree's customer_id: alphanumeric, at most 50


async def test_a_refund_the_provider_failed_without_its_webhook_fails_once_and_frees_the_amount(payments, stage):
    """The reconciler reads a refund Cashfree cancelled (its webhook lost): `refund.failed` once, and what it held
    of the payment can be refunded again."""
    if stage.driver.provider_type != "cashfree":
        pytest.skip("staged on Cashfree's refunds (CANCELLED)")
    from payments.refunds import reconciler as refund_reconciler

    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 5_000)
    await _run(payments)
    await stage.settle(payment_id)
    refund = await _refund(stage, payment_id, amount_cents=5_000)
    runtime, sessionmaker = _runtime(payments), payments.database.sessionmaker
    await refunds.run_once(runtime, sessionmaker)
    shown = (await stage.ok("GET", f"/api/v1/refunds/{refund['lago_id']}"))["refund"]
    assert shown["status"] == "pending"
    stage.driver.fake.settle_refund(shown["provider_refund_id"], status="CANCELLED")
    previous = runtime.settings
    runtime.settings = previous.model_copy(update={"reconcile_after_seconds": 0})
    try:
        assert await refund_reconciler.run_once(runtime, sessionmaker) == {"settled:failed": 1}
        assert await refund_reconciler.run_once(runtime, sessionmaker) == {}
    finally:
        runtime.settings = previous
    assert (await stage.ok("GET", f"/api/v1/refunds/{refund['lago_id']}"))["refund"]["status"] == "failed"
    assert [e["data"]["refund"]["lago_id"] for e in await stage.events("refund.failed")] == [refund["lago_id"]]
    again = await _refund(stage, payment_id, amount_cents=5_000)  # the failed refund holds nothing back
    assert again["status"] == "pending"
