#!/usr/bin/env python3
"""The money path as an outside user walks it, against a running suite (`make run`).

    make run                                   # in one terminal
    uv run python scripts/money_journey.py     # in another; reads .invora/dev.json

Only Lago's official Python client (plain HTTP where it has no call: payment providers, applied taxes,
wallet transactions' payment) talks to the suite, through its one public origin; the Stripe SDK talks to the
Stripe fake `make run` started (localstripe). Nothing of Invora's own code is imported.

1. a webhook receiver on loopback with two endpoints (`jwt` and `hmac` signatures), every delivery verified
   here: Lago's `X-Lago-Signature` (RS256 JWT against `GET /webhooks/json_public_key`, HMAC-SHA256 of the body
   with the endpoint's secret) and the Standard Webhooks signature; a delivery id seen twice is a failure;
2. metrics, a 20 % tax, a plan paid in advance (2,000 a month) with standard, graduated, package and
   percentage charges, a fixed coupon;
3. a customer on Stripe with a card (4242…): its first invoice (the fee in advance, the coupon, the tax) is
   finalized, charged once at the fake for its total and shows `payment_status: succeeded`;
4. usage events, then the subscription terminated (the period closed): the charges are priced again here with
   Decimal and compared fee by fee, the totals recomputed; charged and `succeeded`;
5. a customer whose card is declined (4000000000000002 is refused when attached, 4000000000000341 when
   charged): `payment_status: failed` and the failure webhooks;
6. a credit note refunding part of the first invoice: the refund reaches the fake once, for that amount;
7. a wallet with a paid top-up: charged at the fake, the credits granted;
8. every JSON answer of the API checked against Lago's OpenAPI document (its response schema for that
   operation), when the document is found (`INVORA_LAGO_OPENAPI`, or `shared/reference/lago-openapi.yaml` in a
   parent folder).

It prints one line per check and exits 1 if any failed. Rerunnable: codes carry a random suffix.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import math
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import stripe
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import (
    AppliedCoupon,
    BillableMetric,
    Charge,
    Coupon,
    CreditNote,
    Customer,
    CustomerBillingConfiguration,
    Event,
    Payment,
    Plan,
    Subscription,
    Tax,
    Wallet,
    WalletTransaction,
    WebhookEndpoint,
)
from lago_python_client.models.charge import Charges
from lago_python_client.models.credit_note import CreditNoteEstimate, Item, Items
from standardwebhooks import Webhook

ROOT = Path(__file__).resolve().parents[1]
CENT = Decimal(1)
FAILURES: list[str] = []


# differences from Lago's document that docs/lago-compatibility.md records (or that are slips of Lago's own
# document): reported as `known`, not as failures
KNOWN = [
    (re.compile(r"POST /api/v1/events(/batch)? 200 matches Lago's schema: .*lago_customer_id"),
     "lago_customer_id is answered at once (docs/lago-compatibility.md)"),
    (re.compile(r"wallets.* 200 matches Lago's schema: wallet: 'balance' is a required property"),
     "Lago's document requires `balance` but defines no such property (its client has none)"),
    (re.compile(r"customer.payment_provider_(created|error) body vs Lago's schema: customer: "
                r"'(sequential_id|slug|applicable_timezone|created_at)'"),
     "payments knows part of the customer (docs/lago-compatibility.md)"),
]


def check(ok: bool, what: str, detail: Any = "") -> bool:
    if not ok and (known := next((why for pattern, why in KNOWN if pattern.search(f"{what}: {detail}")), None)):
        print(f"known {what}: {detail} ({known})")
        return ok
    print(("ok    " if ok else "FAIL  ") + what + (f": {detail}" if detail not in ("", None) and not ok else ""))
    if not ok:
        FAILURES.append(f"{what}: {detail}")
    return ok


def wait_for(probe: Callable[[], Any], what: str, timeout: float = 60.0, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as error:  # noqa: BLE001 - a probe may fail until the state settles
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    check(False, what, f"not within {timeout} s (last: {last!r})")
    return None


def cents(value: Decimal) -> int:
    return int(value.quantize(CENT, rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------------------------------------------------------
# every answer of the API, checked against Lago's OpenAPI document


class LagoSchemas:
    """The response schema of each Lago operation, as JSON Schema (OpenAPI 3.1 is JSON Schema 2020-12): the
    document's `components` ride along in each schema, so its `#/components/...` references resolve."""

    def __init__(self, document: dict) -> None:
        import jsonschema

        self.document = document
        self.validator_class = jsonschema.Draft202012Validator
        self.operations: list[tuple[str, re.Pattern, dict]] = []
        for path, item in document["paths"].items():
            pattern = re.compile("^/api/v1" + re.sub(r"\{[^/}]+\}", "[^/]+", path) + "$")
            for method, operation in item.items():
                if method in ("get", "post", "put", "delete", "patch"):
                    self.operations.append((method.upper(), pattern, operation))
        # literal paths first (`/invoices/preview` before `/invoices/{id}`)
        self.operations.sort(key=lambda op: op[1].pattern.count("[^/]+"))

    def errors(self, method: str, path: str, status: int, body: Any) -> list[str]:
        for op_method, pattern, operation in self.operations:
            if op_method == method and pattern.match(path):
                responses = operation.get("responses", {})
                response = responses.get(str(status))
                if response is None:  # Lago's document lists few of the errors Lago answers (405, 409...)
                    return [] if status >= 400 else [f"status {status} is not among Lago's answers {sorted(responses)}"]
                response = self._deref(response)
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema is None:
                    return []
                validator = self.validator_class({**schema, "components": self.document["components"]})
                # Lago's document rarely says `null` where Lago answers null (`file_url`, `description`…):
                # a null is not held against us, any other value must match
                return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:160]}"
                        for e in validator.iter_errors(body) if e.instance is not None][:8]
        return []  # not a Lago operation

    def webhook_errors(self, body: dict) -> list[str] | None:
        """What in a webhook body contradicts Lago's schema for its `webhook_type`; None for a type Lago lacks."""
        for hook in self.document.get("webhooks", {}).values():
            schema = hook["post"]["requestBody"]["content"]["application/json"]["schema"]
            schema = self._deref(schema)
            if body.get("webhook_type") in schema.get("properties", {}).get("webhook_type", {}).get("enum", []):
                validator = self.validator_class({**schema, "components": self.document["components"]})
                return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:160]}"
                        for e in validator.iter_errors(body) if e.instance is not None][:6]
        return None

    def _deref(self, node: dict) -> dict:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node


def find_lago_document() -> Path | None:
    if configured := os.environ.get("INVORA_LAGO_OPENAPI"):
        return Path(configured)
    for folder in ROOT.parents:
        candidate = folder / "shared" / "reference" / "lago-openapi.yaml"
        if candidate.is_file():
            return candidate
    return None


class Recorder:
    """Every request the Lago client sends (through httpx): its answer kept, checked against Lago's schema."""

    def __init__(self, api_url: str, schemas: LagoSchemas | None) -> None:
        self.api_url = api_url.rstrip("/")
        self.schemas = schemas
        self.answers: list[tuple[str, str, int, Any]] = []
        self.schema_failures: Counter[str] = Counter()
        self.original = original = httpx.Client.send
        recorder = self

        def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            response = original(client, request, **kwargs)
            if str(request.url).startswith(recorder.api_url + "/api/v1/"):
                response.read()
                recorder.record(request, response)
            return response

        httpx.Client.send = send  # type: ignore[method-assign]

    def close(self) -> None:
        httpx.Client.send = self.original  # type: ignore[method-assign]

    def record(self, request: httpx.Request, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        path = request.url.path
        self.answers.append((request.method, path, response.status_code, body))
        if response.status_code >= 500:
            check(False, f"{request.method} {path} answers no 5xx", f"{response.status_code} {response.text[:300]}")
        if self.schemas is not None and isinstance(body, (dict, list)):
            errors = self.schemas.errors(request.method, path, response.status_code, body)
            key = f"{request.method} {re.sub(r'[0-9a-f-]{36}', '{id}', path)} {response.status_code}"
            for error in errors:
                if self.schema_failures[f"{key} {error}"] == 0:
                    check(False, f"{key} matches Lago's schema", error)
                self.schema_failures[f"{key} {error}"] += 1

    def last(self, method: str, path_part: str) -> Any:
        for m, path, _status, body in reversed(self.answers):
            if m == method and path_part in path:
                return body
        raise LookupError(f"no {method} {path_part}")


# ---------------------------------------------------------------------------------------------------------------
# the tenant's webhook receiver


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.deliveries.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, path: str) -> list[tuple[dict[str, str], dict]]:
        with self.lock:
            return [(h, json.loads(b)) for p, h, b in self.deliveries if p == path]

    def stop(self) -> None:
        self.server.shutdown()


def verify_deliveries(receiver: Receiver, path: str, algo: str, secret: str, public_key: bytes,
                      issuer_hint: str, schemas: LagoSchemas | None) -> None:
    with receiver.lock:
        deliveries = [(h, b) for p, h, b in receiver.deliveries if p == path]
    bad: list[str] = []
    ids: Counter[str] = Counter()
    for headers, body in deliveries:
        lower = {k.lower(): v for k, v in headers.items()}
        ids[lower.get("webhook-id", "?")] += 1
        if not lower.get("x-lago-unique-key"):
            bad.append("no X-Lago-Unique-Key")
        if schemas is not None and algo == "jwt":
            parsed = json.loads(body)
            errors = schemas.webhook_errors(parsed)
            for error in errors or []:
                bad.append(f"{parsed.get('webhook_type')} body vs Lago's schema: {error}")
        if lower.get("x-lago-signature-algorithm") != algo:
            bad.append(f"algorithm header {lower.get('x-lago-signature-algorithm')!r}")
            continue
        signature = lower.get("x-lago-signature", "")
        if algo == "hmac":
            expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(expected, signature):
                bad.append("hmac X-Lago-Signature does not verify")
        else:
            try:
                claims = jwt.decode(signature, public_key, algorithms=["RS256"], options={"verify_iss": False})
                if claims.get("data") != body.decode() and claims.get("data") != json.loads(body):
                    bad.append("jwt data claim is not the body")
                if not str(claims.get("iss", "")).startswith(issuer_hint):
                    bad.append(f"jwt iss {claims.get('iss')!r} is not the public origin {issuer_hint}")
            except jwt.PyJWTError as error:
                bad.append(f"jwt X-Lago-Signature: {error}")
        try:
            Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
        except Exception as error:  # noqa: BLE001
            bad.append(f"standard webhooks signature: {error}")
    check(bool(deliveries), f"{algo} endpoint received webhooks", len(deliveries))
    for problem, count in Counter(bad).most_common():
        check(False, f"{algo} webhooks", f"{problem} (×{count})")
    unsigned = [problem for problem in bad if "body vs Lago" not in problem]
    check(not unsigned, f"every {algo} delivery's signatures verify independently ({len(deliveries)})",
          unsigned[:4])
    twice = {i: n for i, n in ids.items() if n > 1}
    check(not twice, f"no {algo} delivery arrives twice", twice)


def webhook_types(receiver: Receiver, path: str) -> Counter[str]:
    return Counter(body.get("webhook_type") for _h, body in receiver.of(path))


def webhooks_about(receiver: Receiver, path: str, webhook_type: str, object_id: str) -> list[dict]:
    return [body for _h, body in receiver.of(path)
            if body.get("webhook_type") == webhook_type and object_id in json.dumps(body)]


# ---------------------------------------------------------------------------------------------------------------
# pricing recomputed here, from Lago's documented rules


def standard(units: Decimal, amount: str) -> Decimal:
    return units * Decimal(amount)


def graduated(units: Decimal, ranges: list[dict]) -> Decimal:
    total = Decimal(0)
    for tier in ranges:
        lower = Decimal(tier["from_value"])
        upper = None if tier["to_value"] is None else Decimal(tier["to_value"])
        # Lago: the first tier counts from 0, the next ones from from_value - 1 (ranges 0-10, 11-∞)
        start = lower if lower == 0 else lower - 1
        if units <= start:
            break
        in_tier = (units if upper is None else min(units, upper)) - start
        total += in_tier * Decimal(tier["per_unit_amount"]) + Decimal(tier["flat_amount"])
    return total


def package(units: Decimal, size: int, amount: str, free: int) -> Decimal:
    paid = max(units - free, Decimal(0))
    return Decimal(math.ceil(paid / size)) * Decimal(amount)


def percentage(amounts: list[Decimal], rate: str, fixed: str) -> Decimal:
    return sum(amounts, Decimal(0)) * Decimal(rate) / 100 + len(amounts) * Decimal(fixed)


# ---------------------------------------------------------------------------------------------------------------


def run(api_url: str, api_key: str, stripe_api_base: str, *, timeout: float = 90.0,
        dump: str | None = None) -> list[str]:
    """Walk the journey against the suite at `api_url` (its payments charging on the Stripe at
    `stripe_api_base`); the failed checks, empty when all passed."""
    FAILURES.clear()
    api_url = api_url.rstrip("/")
    document = find_lago_document()
    schemas = None
    if document is not None:
        import yaml

        schemas = LagoSchemas(yaml.safe_load(document.read_text()))
    print(f"suite {api_url}, Stripe fake {stripe_api_base}, Lago schema {'checked' if schemas else 'not found'}")
    recorder = Recorder(api_url, schemas)
    client = Client(api_key=api_key, api_url=api_url + "/")
    raw = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=15.0)
    fake = stripe.StripeClient("sk_test_journey", base_addresses={"api": stripe_api_base},
                               http_client=stripe.HTTPXClient(timeout=10, allow_sync_methods=True))
    receiver = Receiver()
    started = time.monotonic()
    try:
        journey(client, raw, recorder, fake, receiver, uuid.uuid4().hex[:6], api_url, timeout)
    except Exception:  # noqa: BLE001 - a step that raised is a failure, reported with its trace
        traceback.print_exc()
        check(False, "the journey ran to its end", traceback.format_exc(limit=3))
    finally:
        # the journey's webhook endpoints go (an organization holds at most 10)
        for m, path, status, body in list(recorder.answers):
            if m == "POST" and path.endswith("/webhook_endpoints") and status == 200:
                try:
                    client.webhook_endpoints.destroy(body["webhook_endpoint"]["lago_id"])
                except Exception as error:  # noqa: BLE001
                    check(False, "the journey's webhook endpoints removed", error)
        receiver.stop()
        recorder.close()
        raw.close()
        if dump:
            Path(dump).write_text(json.dumps(
                [{"path": p, "headers": h, "body": json.loads(b)} for p, h, b in receiver.deliveries], indent=1))
    print()
    print(f"{len(recorder.answers)} API answers, {len(receiver.deliveries)} webhook deliveries, "
          f"{len(FAILURES)} failed checks, {time.monotonic() - started:.1f} s")
    for failure in FAILURES:
        print("  -", failure)
    return list(FAILURES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-json", default=str(ROOT / ".invora" / "dev.json"),
                        help="the running suite's details, written by `make run` (default .invora/dev.json)")
    parser.add_argument("--dump", help="write every webhook delivery (headers, body) to this JSON file")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for each asynchronous outcome")
    args = parser.parse_args()
    dev = json.loads(Path(args.dev_json).read_text())
    return 1 if run(dev["api_url"], dev["api_key"], dev["stripe_api_base"], timeout=args.timeout,
                    dump=args.dump) else 0


def raw_ok(raw: httpx.Client, method: str, path: str, body: Any = None) -> dict:
    response = raw.request(method, path, json=body)
    check(response.status_code == 200, f"{method} {path}", f"{response.status_code} {response.text[:300]}")
    return response.json() if response.status_code == 200 else {}


def stripe_customer(fake: stripe.StripeClient, card: str | None, email: str) -> tuple[str, str | None]:
    customer = fake.v1.customers.create({"email": email})
    if card is None:
        return customer.id, None
    method = fake.v1.payment_methods.create({"type": "card", "card": {
        "number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    try:
        fake.v1.payment_methods.attach(method.id, {"customer": customer.id})
    except stripe.CardError as error:
        return customer.id, f"attach refused: {error.code}"
    return customer.id, None


def journey(client: Client, raw: httpx.Client, recorder: Recorder, fake: stripe.StripeClient, receiver: Receiver,
            s: str, api_url: str, timeout: float) -> None:
    # -- webhooks
    for algo in ("jwt", "hmac"):
        client.webhook_endpoints.create(WebhookEndpoint(
            webhook_url=f"{receiver.url}/{algo}/{s}", signature_algo=algo, name=f"journey {algo} {s}"))
    secrets = {}
    for body in (b for m, p, st, b in recorder.answers if m == "POST" and p.endswith("/webhook_endpoints")):
        endpoint = body["webhook_endpoint"]
        secrets[endpoint["signature_algo"]] = endpoint.get("secret")
    check(all(secrets.get(a) for a in ("jwt", "hmac")), "webhook endpoints answer their secret once", secrets)
    public_key = client.webhooks.public_key()
    check(b"BEGIN PUBLIC KEY" in public_key, "GET /webhooks/json_public_key gives a PEM", public_key[:40])

    # -- catalog
    client.taxes.create(Tax(name="VAT 20", code=f"vat20_{s}", rate="20.0", applied_to_organization=False))
    metrics = {
        "calls": BillableMetric(name="Calls", code=f"calls_{s}", aggregation_type="count_agg"),
        "gb": BillableMetric(name="Storage", code=f"gb_{s}", aggregation_type="sum_agg", field_name="gb"),
        "msgs": BillableMetric(name="Messages", code=f"msgs_{s}", aggregation_type="count_agg"),
        "tx": BillableMetric(name="Transactions", code=f"tx_{s}", aggregation_type="sum_agg", field_name="amount"),
    }
    metric_ids = {name: client.billable_metrics.create(m).lago_id for name, m in metrics.items()}
    graduated_ranges = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1.00", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.50", "flat_amount": "2.00"},
    ]
    plan_code = f"journey_{s}"
    plan = client.plans.create(Plan(
        name="Journey", code=plan_code, interval="monthly", amount_cents=2_000, amount_currency="EUR",
        pay_in_advance=True, tax_codes=[f"vat20_{s}"],
        charges=Charges(__root__=[
            Charge(billable_metric_id=metric_ids["calls"], charge_model="standard",
                   properties={"amount": "0.05"}),
            Charge(billable_metric_id=metric_ids["gb"], charge_model="graduated",
                   properties={"graduated_ranges": graduated_ranges}),
            Charge(billable_metric_id=metric_ids["msgs"], charge_model="package",
                   properties={"package_size": 100, "amount": "3.00", "free_units": 50}),
            Charge(billable_metric_id=metric_ids["tx"], charge_model="percentage",
                   properties={"rate": "1.5", "fixed_amount": "0.10"}),
        ])))
    check(len(plan.charges.__root__) == 4 and plan.pay_in_advance is True, "plan with four charges created")
    client.coupons.create(Coupon(name="Five off", code=f"five_{s}", coupon_type="fixed_amount", amount_cents=500,
                                 amount_currency="EUR", frequency="once", expiration="no_expiration",
                                 reusable=True))

    # -- payments: Stripe on the fake --------------------------------------------------------------------------------
    raw_ok(raw, "POST", "/api/v1/payment_providers", {"payment_provider": {
        "provider_type": "stripe", "code": f"stripe_{s}", "name": "Stripe", "secret_key": "sk_test_journey"}})

    def customer_on_stripe(external_id: str, card: str | None) -> tuple[str, str | None]:
        provider_id, refused = stripe_customer(fake, card, f"{external_id}@example.test")
        client.customers.create(Customer(
            external_id=external_id, name=external_id, currency="EUR", timezone="UTC",
            billing_configuration=CustomerBillingConfiguration(
                payment_provider="stripe", payment_provider_code=f"stripe_{s}", provider_customer_id=provider_id)))
        return provider_id, refused

    payer = f"payer_{s}"
    payer_stripe, _ = customer_on_stripe(payer, "4242424242424242")
    client.applied_coupons.create(AppliedCoupon(external_customer_id=payer, coupon_code=f"five_{s}"))
    client.subscriptions.create(Subscription(external_customer_id=payer, plan_code=plan_code,
                                             external_id=f"sub_{payer}", billing_time="anniversary"))

    def invoices_of(external_customer_id: str) -> list:
        return client.invoices.find_all({"external_customer_id": external_customer_id})["invoices"]

    def paid_invoice(external_customer_id: str, invoice_type: str, status: str = "succeeded",
                     exclude: tuple = ()) -> Any:
        def probe() -> Any:
            for invoice in invoices_of(external_customer_id):
                if (invoice.invoice_type == invoice_type and invoice.payment_status == status
                        and invoice.lago_id not in exclude):
                    return invoice
            return None
        return wait_for(probe, f"{external_customer_id}: a {invoice_type} invoice with payment {status}", timeout)

    first = paid_invoice(payer, "subscription")
    if first is None:
        return
    first = client.invoices.find(first.lago_id)
    # 2,000 in advance − 500 coupon = 1,500, + 20 % = 300 → 1,800
    check((first.fees_amount_cents, first.coupons_amount_cents, first.taxes_amount_cents,
           first.total_amount_cents) == (2_000, 500, 300, 1_800),
          "first invoice: fee 2,000 − coupon 500 + tax 300 = 1,800",
          (first.fees_amount_cents, first.coupons_amount_cents, first.taxes_amount_cents, first.total_amount_cents))
    check(first.status == "finalized" and bool(first.number), "first invoice finalized with a number",
          (first.status, first.number))
    check((first.total_paid_amount_cents, first.total_due_amount_cents) == (1_800, 0),
          "first invoice: 1,800 paid, nothing due", (first.total_paid_amount_cents, first.total_due_amount_cents))
    charges = [c for c in fake.v1.charges.list({"customer": payer_stripe}).data if c.status == "succeeded"]
    check([c.amount for c in charges] == [1_800] and charges[0].currency == "eur",
          "one charge of 18.00 EUR at the fake", [(c.amount, c.currency) for c in charges])
    payments = client.payments.find_all({"invoice_id": first.lago_id})["payments"]
    check([(p.amount_cents, p.payment_status) for p in payments] == [(1_800, "succeeded")],
          "GET /payments?invoice_id: one succeeded payment of 1,800",
          [(p.amount_cents, p.payment_status) for p in payments])

    # -- usage, then the period closed by termination
    sub_id = f"sub_{payer}"
    sent = {"calls": 37, "gb": [Decimal("4.5"), Decimal("9"), Decimal("3.25")], "msgs": 263,
            "tx": [Decimal("120.00"), Decimal("0.99"), Decimal("45.5")]}
    batch: list[Event] = []
    now = int(time.time())
    for i in range(sent["calls"]):
        batch.append(Event(transaction_id=f"c{i}_{s}", external_subscription_id=sub_id, code=f"calls_{s}",
                           timestamp=now))
    for i, gb in enumerate(sent["gb"]):
        batch.append(Event(transaction_id=f"g{i}_{s}", external_subscription_id=sub_id, code=f"gb_{s}",
                           timestamp=now, properties={"gb": str(gb)}))
    for i in range(sent["msgs"]):
        batch.append(Event(transaction_id=f"m{i}_{s}", external_subscription_id=sub_id, code=f"msgs_{s}",
                           timestamp=now))
    for i, amount in enumerate(sent["tx"]):
        batch.append(Event(transaction_id=f"t{i}_{s}", external_subscription_id=sub_id, code=f"tx_{s}",
                           timestamp=now, properties={"amount": str(amount)}))
    from lago_python_client.models import BatchEvent

    client.events.batch_create(BatchEvent(events=batch))
    # a duplicate transaction id is ignored
    client.events.create(Event(transaction_id=f"c0_{s}", external_subscription_id=sub_id, code=f"calls_{s}",
                               timestamp=now))
    expected = {
        f"calls_{s}": standard(Decimal(sent["calls"]), "0.05"),
        f"gb_{s}": graduated(sum(sent["gb"], Decimal(0)), graduated_ranges),
        f"msgs_{s}": package(Decimal(sent["msgs"]), 100, "3.00", 50),
        f"tx_{s}": percentage(sent["tx"], "1.5", "0.10"),
    }

    def usage_counted() -> Any:
        usage = client.customers.current_usage(payer, sub_id)
        units = {c.billable_metric.code: Decimal(str(c.units)) for c in usage.charges_usage}
        return usage if units.get(f"calls_{s}") == sent["calls"] and units.get(f"msgs_{s}") == sent["msgs"] else None

    usage = wait_for(usage_counted, "current usage counts every event once", timeout)
    if usage is not None:
        for c in usage.charges_usage:
            code = c.billable_metric.code
            check(c.amount_cents == cents(expected[code] * 100), f"current usage of {code} priced as recomputed",
                  (c.amount_cents, expected[code]))
    client.subscriptions.destroy(sub_id)
    final = paid_invoice(payer, "subscription", exclude=(first.lago_id,))
    if final is not None:
        final = client.invoices.find(final.lago_id)
        charge_fees = {f.item.code: f for f in final.fees.__root__ if f.item.type == "charge"}
        for code, amount in expected.items():
            fee = charge_fees.get(code)
            check(fee is not None and fee.amount_cents == cents(amount * 100),
                  f"closing invoice: {code} fee = {amount} recomputed", fee and fee.amount_cents)
        fees_total = sum(f.amount_cents for f in final.fees.__root__)
        check(final.fees_amount_cents == fees_total, "closing invoice: fees_amount_cents = Σ fees",
              (final.fees_amount_cents, fees_total))
        taxable = Decimal(final.fees_amount_cents - final.coupons_amount_cents)
        tax = cents(taxable * Decimal("0.20"))
        check(final.taxes_amount_cents == tax, "closing invoice: tax 20 % of fees after coupons",
              (final.taxes_amount_cents, tax))
        credits = (final.credit_notes_amount_cents or 0) + (final.prepaid_credit_amount_cents or 0)
        check(final.total_amount_cents == taxable + tax - credits,
              "closing invoice: total = fees − coupons + taxes − credits",
              (final.total_amount_cents, taxable, tax, credits))
        charged = sorted(c.amount for c in fake.v1.charges.list({"customer": payer_stripe}).data
                         if c.status == "succeeded")
        check(charged == sorted([1_800, final.total_amount_cents]) or final.total_amount_cents == 0,
              "the closing invoice charged once at the fake for its total", charged)
        # the fee paid in advance for days now not used comes back as a credit note on the first invoice (Lago's
        # default, `credit`): the days after the termination day, after the coupon's share, taxed, and consumed by
        # the closing invoice
        fee = next(f for f in first.fees.__root__ if f.item.type == "subscription")
        first_day, last_day = (datetime.fromisoformat(d.replace("Z", "+00:00")).date()
                               for d in (fee.from_date, fee.to_date))
        terminated_on = datetime.now(UTC).date()
        days, unused = (last_day - first_day).days + 1, (last_day - terminated_on).days
        exact = Decimal(2_000) * unused / days * Decimal(1_500) / 2_000 * Decimal("1.2")
        notes = [n for n in client.credit_notes.find_all({"external_customer_id": payer})["credit_notes"]
                 if n.lago_invoice_id == first.lago_id]
        check(len(notes) == 1 and abs(notes[0].total_amount_cents - exact) <= 1
              and notes[0].credit_amount_cents == notes[0].total_amount_cents
              and not notes[0].refund_amount_cents,
              f"termination credit note: the unused {unused}/{days} days of 15.00 + 20 % ({exact:.3f}) credited",
              [(n.total_amount_cents, n.credit_amount_cents, n.refund_amount_cents) for n in notes])
        owed = taxable + tax
        check(abs(final.credit_notes_amount_cents - min(exact, owed)) <= 1,
              "closing invoice: the termination credit consumed up to what it owes",
              (final.credit_notes_amount_cents, owed))

    # -- declines
    decliners = {}
    for card in ("4000000000000002", "4000000000000341"):
        external_id = f"declines_{card[-4:]}_{s}"
        provider_id, refused = customer_on_stripe(external_id, card)
        print(f"      card {card}: {refused or 'attached'}")
        client.subscriptions.create(Subscription(external_customer_id=external_id, plan_code=plan_code,
                                                 external_id=f"sub_{external_id}", billing_time="anniversary"))
        decliners[external_id] = provider_id
    for external_id, provider_id in decliners.items():
        failed = paid_invoice(external_id, "subscription", status="failed")
        if failed is None:
            continue
        check(failed.status == "finalized" and failed.total_amount_cents == 2_400,
              f"{external_id}: finalized, 24.00 due, payment failed", (failed.status, failed.total_amount_cents))
        check(not [c for c in fake.v1.charges.list({"customer": provider_id}).data if c.status == "succeeded"],
              f"{external_id}: no successful charge at the fake")
        payments = client.payments.find_all({"invoice_id": failed.lago_id})["payments"]
        check(bool(payments) and all(p.payment_status == "failed" for p in payments),
              f"{external_id}: its payments are failed", [(p.payment_status,) for p in payments])
        code = "no_payment_method" if external_id.startswith("declines_0002") else "card_declined"
        for path in (f"/jwt/{s}", f"/hmac/{s}"):
            for webhook_type in ("invoice.payment_failure", "payment.failed"):
                found = wait_for(lambda p=path, w=webhook_type, i=failed.lago_id: webhooks_about(receiver, p, w, i),
                                 f"{external_id}: {webhook_type} at {path}", timeout)
                check(bool(found) and len(found) == 1, f"{external_id}: {webhook_type} once at {path}",
                      len(found or []))
            lago = webhooks_about(receiver, path, "invoice.payment_failure", failed.lago_id)
            if lago:
                error = lago[0].get("payment_provider_invoice_payment_error") or {}
                check(error.get("lago_invoice_id") == failed.lago_id
                      and error.get("external_customer_id") == external_id
                      and (error.get("provider_error") or {}).get("error_code") == code,
                      f"{external_id}: invoice.payment_failure names the invoice and the error {code}", error)

    # -- credit note with a refund, on the closing invoice (the first one's fee is credited already)
    if final is not None:
        msgs_fee = next(f for f in final.fees.__root__ if f.item.type == "charge" and f.item.code == f"msgs_{s}")
        items = Items(__root__=[Item(fee_id=msgs_fee.lago_id, amount_cents=600)])
        estimate = client.credit_notes.estimate(CreditNoteEstimate(invoice_id=final.lago_id, items=items))
        # 6.00 of the 9.00 package fee, no coupon on this invoice, 20 % = 1.20 → 7.20
        check((estimate.coupons_adjustment_amount_cents, estimate.sub_total_excluding_taxes_amount_cents,
               estimate.taxes_amount_cents) == (0, 600, 120),
              "credit note estimate: 600 + tax 120",
              (estimate.coupons_adjustment_amount_cents, estimate.sub_total_excluding_taxes_amount_cents,
               estimate.taxes_amount_cents))
        note = client.credit_notes.create(CreditNote(
            invoice_id=final.lago_id, reason="order_change", refund_amount_cents=720, credit_amount_cents=0,
            items=items))
        check(note.total_amount_cents == 720 and note.refund_amount_cents == 720, "credit note of 720 to refund",
              (note.total_amount_cents, note.refund_amount_cents))

        def refunded() -> Any:
            current = client.credit_notes.find(note.lago_id)
            return current if current.refund_status == "succeeded" else None

        wait_for(refunded, "credit note refund_status succeeded", timeout)
        closing_charge = [c for c in fake.v1.charges.list({"customer": payer_stripe}).data
                          if c.status == "succeeded" and c.amount == final.total_amount_cents]
        refunds = [r for c in closing_charge for r in fake.v1.refunds.list({"charge": c.id}).data]
        check([r.amount for r in refunds] == [720], "one refund of 7.20 at the fake on the closing invoice's charge",
              [(r.amount, r.status) for r in refunds])
        check(not [r for r in fake.v1.refunds.list({"charge": charges[0].id}).data] if charges else True,
              "nothing refunded on the first charge")

    # -- wallet with a paid top-up
    wallet = client.wallets.create(Wallet(external_customer_id=payer, name="Prepaid", rate_amount="1", currency="EUR",
                                          paid_credits="10.00", granted_credits="5.00",
                                          invoice_requires_successful_payment=False))

    def wallet_settled() -> Any:
        current = client.wallets.find(wallet.lago_id)
        return current if Decimal(str(current.credits_balance)) == 15 else None

    settled = wait_for(wallet_settled, "wallet: 10 paid + 5 granted credits", timeout)
    if settled is not None:
        check(settled.balance_cents == 1_500, "wallet balance_cents 1,500", settled.balance_cents)
    credit_invoice = paid_invoice(payer, "credit")
    if credit_invoice is not None:
        check(credit_invoice.total_amount_cents == 1_000 and credit_invoice.taxes_amount_cents == 0,
              "the paid top-up invoiced 10.00 without tax", credit_invoice.total_amount_cents)
        check(1_000 in [c.amount for c in fake.v1.charges.list({"customer": payer_stripe}).data
                        if c.status == "succeeded"], "the top-up charged 10.00 at the fake")
    transactions = client.wallet_transactions.find_all(wallet.lago_id)["wallet_transactions"]
    check(sorted((t.transaction_type, t.status, Decimal(str(t.credit_amount))) for t in transactions)
          == [("inbound", "settled", Decimal(5)), ("inbound", "settled", Decimal(10))],
          "wallet transactions: 10 paid and 5 granted, settled",
          [(t.transaction_type, t.status, t.credit_amount, t.transaction_status) for t in transactions])

    # -- bad input on the money path: Lago's 4xx, never a 5xx, nothing changed
    def refused(what: str, status: int, call: Callable[[], Any]) -> None:
        try:
            call()
        except LagoApiError as error:
            check(error.status_code == status, f"{what}: {status}", (error.status_code, str(error)[:200]))
        else:
            check(False, f"{what}: {status}", "accepted")

    if final is not None and charges:
        fee = next(f for f in final.fees.__root__ if f.item.type == "charge")
        refused("a refund above what was paid", 422, lambda: client.credit_notes.create(CreditNote(
            invoice_id=final.lago_id, refund_amount_cents=10**9, credit_amount_cents=0,
            items=Items(__root__=[Item(fee_id=fee.lago_id, amount_cents=10**9)]))))
        # the credit note's refund is not owed again (it once was: charged a second time, overpaid by hand)
        refused("a manual payment above what is due", 422, lambda: client.payments.create(Payment(
            invoice_id=final.lago_id, amount_cents=1, reference="wire", paid_at="2026-01-01")))
        refused("retry_payment of the paid, partly refunded invoice", 405,
                lambda: client.invoices.retry_payment(final.lago_id))
        time.sleep(1)
        check(sorted(c.amount for c in fake.v1.charges.list({"customer": payer_stripe}).data
                     if c.status == "succeeded") == sorted([1_800, final.total_amount_cents, 1_000]),
              "no charge after the refund", [c.amount for c in fake.v1.charges.list({"customer": payer_stripe}).data])
    refused("an estimate of an unknown invoice", 404, lambda: client.credit_notes.estimate(CreditNoteEstimate(
        invoice_id=str(uuid.uuid4()), items=Items(__root__=[Item(fee_id=str(uuid.uuid4()), amount_cents=1)]))))
    refused("negative paid credits", 422, lambda: client.wallet_transactions.create(WalletTransaction(
        wallet_id=wallet.lago_id, paid_credits="-5")))
    check(client.invoices.find(first.lago_id).total_paid_amount_cents == 1_800, "the first invoice unchanged")

    # -- webhooks, verified here
    time.sleep(3)  # let the last deliveries land
    issuer = api_url
    for algo in ("jwt", "hmac"):
        verify_deliveries(receiver, f"/{algo}/{s}", algo, secrets[algo] or "", public_key, issuer,
                          recorder.schemas)
    seen = webhook_types(receiver, f"/jwt/{s}")
    print("      webhook types:", dict(sorted(seen.items())))
    for required in ("invoice.created", "invoice.paid_credit_added", "invoice.payment_status_updated",
                     "invoice.payment_failure", "credit_note.created",
                     "wallet.created", "wallet_transaction.created", "customer.created", "subscription.started",
                     "subscription.terminated"):
        check(seen.get(required, 0) >= 1, f"webhook {required} delivered")
    # the first invoice's payment_status_updated arrives once per status change
    statuses = Counter(b["invoice"]["payment_status"] for _h, b in receiver.of(f"/jwt/{s}")
                       if b.get("webhook_type") == "invoice.payment_status_updated"
                       and b["invoice"]["lago_id"] == first.lago_id)
    check(statuses.get("succeeded") == 1, "invoice.payment_status_updated 'succeeded' once for the first invoice",
          dict(statuses))
    created = Counter(b["invoice"]["lago_id"] for _h, b in receiver.of(f"/jwt/{s}")
                      if b.get("webhook_type") == "invoice.created")
    check(all(n == 1 for n in created.values()), "invoice.created once per invoice", dict(created))
    # an object's one-time events arrive once each (a second event id for the same fact is a duplicate too)
    once: Counter[tuple[str, str]] = Counter()
    for _h, body in receiver.of(f"/jwt/{s}"):
        kind, inner = body.get("webhook_type", ""), body.get(body.get("object_type", ""))
        if kind.rsplit(".", 1)[-1] in ("created", "finalized", "started", "terminated", "generated", "succeeded") \
                and isinstance(inner, dict) and inner.get("lago_id"):
            once[(kind, inner["lago_id"])] += 1
    check(bool(once) and all(n == 1 for n in once.values()), f"each one-time webhook once per object ({len(once)})",
          {k: n for k, n in once.items() if n > 1})


if __name__ == "__main__":
    sys.exit(main())
