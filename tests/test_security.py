"""Security probe of every route of every service, read from the services' OpenAPI documents (so a route is
probed the day it appears), over real HTTP (issue 11, "keep it fixed").

Two organizations: A (the victim, with a catalog, customers, a subscription, events, a webhook endpoint…)
and B. For each operation, by category:

- `no_key`: no `Authorization` → 401.
- `forged_key`: unsigned (`alg: none`), HS256 signed with the public key, another key pair, an `exp` that
  is a numeric string → 401.
- `other_org_ids`: B's admin key on A's ids (path and query) → refused (4xx; a read may answer from B's
  own, empty, scope), nothing of A in the answer, and A's objects still there afterwards.
- `tenant_other_customer`: a tenant key of A for another of A's customers, on A's customer → 403 (404 for
  an id the key cannot see; a list answers the key's own customer's rows), nothing of A's customer in it.
- `role_without_right`: every role the operation does not let through (`x-invora-roles`) → 403.
- `idempotency_replay`: A's admin sends a POST with an Idempotency-Key; the same key and body from other
  principals (another admin key, each other role, B) is never answered with the stored response.
- `nul_string`: NUL in each query parameter, each string of the body's root object, each path parameter
  → refused (422; 404 for a path), never a 5xx.
- `oversized_string`: each documented `maxLength` + 1 (body strings and query parameters) → refused.
- `oversized_body`: the operation's body limit (`x-invora-max-body-bytes`) + 1 byte, with and without a
  `Content-Length` (chunked) → 413.

A 5xx anywhere is a failure of its category. The table of attempts and refusals is printed.
Organization A's objects are made through the catalog, subscriptions and notifications APIs; the
invoicing and wallets objects come from events, which this probe does not run (consumers off), so on
their routes the ids are ones that name nothing and the leak checks have nothing of A to find.
Command: `uv run pytest tests/test_security.py -q -s` (the table is printed with or without `-s`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import importlib
import json
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from invora.auth.keys import ROLES, generate_private_key_pem, sign_token
from invora.testing.live import serve
from invora.testing.services import service_settings

SERVICES = ("catalog", "subscriptions", "invoicing", "payments", "wallets", "notifications")
CATEGORIES = ("no_key", "forged_key", "other_org_ids", "tenant_other_customer", "role_without_right",
              "idempotency_replay", "nul_string", "oversized_string", "oversized_body")
CONCURRENCY = 8
MARKER = f"victim{uuid.uuid4().hex[:10]}"  # in every external id and code of organization A


@dataclass
class Operation:
    service: str
    base_url: str
    method: str
    path: str
    spec: dict[str, Any]
    document: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    @property
    def roles(self) -> set[str] | None:
        roles = self.spec.get("x-invora-roles")
        return set(roles) if roles is not None else None

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p.get("in") == where]

    def body_schema(self) -> dict[str, Any] | None:
        schema = self.spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        return resolve(self.document, schema) if schema else None


@dataclass
class Tally:
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refusals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def record(self, category: str, refused: bool, what: str) -> None:
        self.attempts[category] += 1
        if refused:
            self.refusals[category] += 1
        else:
            self.failures[category].append(what)

    def table(self) -> str:
        lines = [f"{'category':<24}{'attempts':>10}{'refused':>10}{'failed':>8}"]
        for category in CATEGORIES:
            lines.append(f"{category:<24}{self.attempts[category]:>10}{self.refusals[category]:>10}"
                         f"{len(self.failures[category]):>8}")
        lines.append(f"{'total':<24}{sum(self.attempts.values()):>10}{sum(self.refusals.values()):>10}"
                     f"{sum(len(f) for f in self.failures.values()):>8}")
        return "\n".join(lines)


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _string_schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
    """The string branch of a property's schema (`anyOf` with null included), if it takes a string."""
    schema = resolve(document, schema)
    if schema.get("type") == "string":
        return schema
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        option = resolve(document, option)
        if option.get("type") == "string":
            return option
    return None


# -- the services and organization A's objects ---------------------------------------------------------------


@pytest.fixture(scope="module")
def suite(migrated_database, invora_kafka: str, invora_keys) -> Iterator[dict[str, str]]:
    def start(stack: contextlib.ExitStack, service: str, **overrides) -> str:
        settings = service_settings(service, database_url=migrated_database(service), kafka=invora_kafka,
                                    keys=invora_keys, consumers_enabled=False, relay_enabled=False, **overrides)
        return stack.enter_context(serve(importlib.import_module(f"{service}.app").create_app(settings)))

    with contextlib.ExitStack() as stack:
        urls = {"catalog": start(stack, "catalog")}
        urls["subscriptions"] = start(stack, "subscriptions", catalog_url=urls["catalog"], scheduler_enabled=False,
                                      service_signing_key=invora_keys.private_pem.decode())
        for service in ("invoicing", "payments", "wallets"):
            urls[service] = start(stack, service)
        # dev mode: webhook URLs may be plain http on loopback (the worker is off: nothing is sent)
        urls["notifications"] = start(stack, "notifications", worker_enabled=False, dev_mode=True)
        yield urls


async def _ok(client: httpx.AsyncClient, method: str, url: str, body: Any = None) -> dict[str, Any]:
    response = await client.request(method, url, json=body)
    assert response.status_code == 200, f"{method} {url}: {response.status_code} {response.text}"
    return response.json()


async def _seed(suite: dict[str, str], key: str) -> dict[str, str]:
    """Organization A's objects; returns the value of each path parameter naming one of them."""
    m = MARKER
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=suite["catalog"], headers=headers, timeout=30) as catalog:
        metric = (await _ok(catalog, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "calls", "code": f"{m}_metric", "aggregation_type": "count_agg",
            "filters": [{"key": "region", "values": ["eu", "us"]}]}}))["billable_metric"]
        await _ok(catalog, "POST", "/api/v1/features", {"feature": {
            "code": f"{m}_feature", "name": "Seats", "privileges": [{"code": f"{m}_priv", "value_type": "integer"}]}})
        await _ok(catalog, "POST", "/api/v1/add_ons", {"add_on": {
            "name": "Setup", "code": f"{m}_addon", "amount_cents": 100, "amount_currency": "EUR"}})
        await _ok(catalog, "POST", "/api/v1/taxes", {"tax": {"name": "VAT", "code": f"{m}_tax", "rate": "20"}})
        await _ok(catalog, "POST", "/api/v1/coupons", {"coupon": {
            "name": "Promo", "code": f"{m}_coupon", "coupon_type": "fixed_amount", "amount_cents": 100,
            "amount_currency": "EUR", "frequency": "once", "expiration": "no_expiration"}})
        plan = (await _ok(catalog, "POST", "/api/v1/plans", {"plan": {
            "name": "Plan", "code": f"{m}_plan", "interval": "monthly", "amount_cents": 1000,
            "amount_currency": "EUR",
            "charges": [{"billable_metric_id": metric["lago_id"], "code": f"{m}_charge", "charge_model": "standard",
                         "properties": {"amount": "1"},
                         "filters": [{"values": {"region": ["eu"]}, "properties": {"amount": "2"}}]}],
            "fixed_charges": [{"add_on_code": f"{m}_addon", "code": f"{m}_fixed", "charge_model": "standard",
                               "units": "1", "properties": {"amount": "5"}}],
            "metadata": {f"{m}_key": "v"}}}))["plan"]
        await _ok(catalog, "POST", f"/api/v1/plans/{m}_plan/entitlements", {"entitlements": {
            f"{m}_feature": {f"{m}_priv": 10}}})
        filters = (await _ok(catalog, "GET", f"/api/v1/plans/{m}_plan/charges/{m}_charge/filters"))
        filter_id = next(iter(filters.values()))[0]["lago_id"]
    async with httpx.AsyncClient(base_url=suite["subscriptions"], headers=headers, timeout=30) as subs:
        for customer in (f"{m}_cust", f"{m}_other"):
            await _ok(subs, "POST", "/api/v1/customers", {"customer": {
                "external_id": customer, "name": "Victim", "currency": "EUR"}})
        await _ok(subs, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": f"{m}_cust", "plan_code": f"{m}_plan", "external_id": f"{m}_sub"}})
        await _ok(subs, "POST", "/api/v1/events", {"event": {
            "transaction_id": f"{m}_tx", "external_subscription_id": f"{m}_sub", "code": f"{m}_metric"}})
        await _ok(subs, "POST", f"/api/v1/subscriptions/{m}_sub/alerts", {"alert": {
            "alert_type": "current_usage_amount", "code": f"{m}_alert", "thresholds": [{"value": "1000"}]}})
        grace = (await _ok(subs, "POST", f"/api/v1/customers/{m}_cust/grace_periods", {"grace_period": {
            "metric": f"{m}_feature", "extra_allowance": 5, "duration_hours": 24}}))
        grace_id = next(iter(grace.values()))["lago_id"]
    async with httpx.AsyncClient(base_url=suite["notifications"], headers=headers, timeout=30) as notifications:
        endpoint = (await _ok(notifications, "POST", "/api/v1/webhook_endpoints", {"webhook_endpoint": {
            "webhook_url": "http://127.0.0.1:9/victim", "name": f"{m}_endpoint"}}))["webhook_endpoint"]
    return {
        "code": f"{m}_plan", "charge_code": f"{m}_charge", "fixed_charge_code": f"{m}_fixed",
        "filter_id": filter_id, "feature_code": f"{m}_feature", "privilege_code": f"{m}_priv", "key": f"{m}_key",
        "version_id": plan.get("lago_plan_version_id") or plan["lago_id"], "external_customer_id": f"{m}_cust",
        "external_id": f"{m}_sub", "transaction_id": f"{m}_tx", "grace_period_id": grace_id,
        "lago_id": endpoint["lago_id"], "alert_code": f"{m}_alert",
        # `code` names another kind of object under each collection
        "/billable_metrics/": f"{m}_metric", "/add_ons/": f"{m}_addon", "/features/": f"{m}_feature",
        "/coupons/": f"{m}_coupon", "/taxes/": f"{m}_tax", "/alerts/": f"{m}_alert",
    }


def _path_value(operation: Operation, name: str, ids: dict[str, str]) -> str:
    if name == "code":
        for collection in ("/billable_metrics/", "/add_ons/", "/features/", "/coupons/", "/taxes/", "/alerts/"):
            if collection in operation.path:
                return ids[collection]
    return ids.get(name, f"{MARKER}_{name}")


def _url(operation: Operation, ids: dict[str, str], override: dict[str, str] | None = None) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if override and name in override:
            return override[name]
        return quote(_path_value(operation, name, ids), safe="")

    return operation.base_url + re.sub(r"\{([^}]+)\}", value, operation.path)


# -- request bodies ------------------------------------------------------------------------------------------

_KNOWN = {
    "webhook_url": "http://127.0.0.1:9/probe", "currency": "EUR", "amount_currency": "EUR", "interval": "monthly",
    "aggregation_type": "count_agg", "charge_model": "standard", "value_type": "integer", "rate": "10",
    "coupon_type": "fixed_amount", "frequency": "once", "expiration": "no_expiration",
    "alert_type": "current_usage_amount", "reason": "probe", "force_state": "past_due",
}


def example(document: dict[str, Any], schema: dict[str, Any], name: str, ids: dict[str, str], depth: int = 0) -> Any:
    """A plausible value for a schema: required fields only, A's objects where a field names one."""
    schema = resolve(document, schema)
    if depth > 6:
        return None
    if name in _KNOWN:
        return _KNOWN[name]
    if name in ("external_customer_id",):
        return ids["external_customer_id"]
    if name in ("external_subscription_id",):
        return ids["external_id"]
    if name in ("plan_code",):
        return ids["code"]
    if "enum" in schema:
        return next((v for v in schema["enum"] if v is not None), None)
    if "const" in schema:
        return schema["const"]
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = [resolve(document, o) for o in schema[union] if resolve(document, o).get("type") != "null"]
            return example(document, options[0], name, ids, depth + 1) if options else None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = schema.get("required", [])
        return {key: example(document, sub, key, ids, depth + 1)
                for key, sub in (schema.get("properties") or {}).items() if key in required}
    if kind == "array":  # as few items as the schema allows (a batch's minimum names A's objects too)
        return [example(document, schema.get("items", {}), name, ids, depth + 1)
                for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if kind == "string":
        if schema.get("format") == "date-time":
            return (datetime.now(UTC) + timedelta(days=1)).isoformat()
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        return f"p{uuid.uuid4().hex[:10]}"
    return None


def required_query(operation: Operation, ids: dict[str, str]) -> dict[str, str]:
    """Values for the required query parameters (A's objects where one is named)."""
    values = {}
    for parameter in operation.parameters("query"):
        if parameter.get("required"):
            value = example(operation.document, parameter.get("schema", {}), parameter["name"], ids)
            values[parameter["name"]] = value if isinstance(value, str) else json.dumps(value)
    return values


def body_for(operation: Operation, ids: dict[str, str]) -> Any:
    schema = operation.body_schema()
    return None if schema is None else example(operation.document, schema, "", ids)


def root_strings(operation: Operation) -> list[tuple[str | None, str, dict[str, Any]]]:
    """(root key, field, string schema) of each string field of the body's root object."""
    schema = operation.body_schema()
    if schema is None:
        return []
    document = operation.document
    properties = schema.get("properties") or {}
    found = []
    if len(properties) == 1:  # Lago's {"customer": {...}}
        (root, inner), = properties.items()
        inner = resolve(document, inner)
        for key, sub in (inner.get("properties") or {}).items():
            if (string := _string_schema(document, sub)) is not None:
                found.append((root, key, string))
    return found


# -- keys ---------------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_keys(invora_keys, org: uuid.UUID) -> dict[str, str]:
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": "invora", "sub": "key:forged", "org": str(org), "roles": ["super_admin", "admin"], "iat": now}
    unsigned = ".".join([_b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()), _b64(json.dumps(claims).encode()),
                         ""])
    signing_input = ".".join([_b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
                              _b64(json.dumps(claims).encode())])
    hs256 = signing_input + "." + _b64(hmac.new(invora_keys.public_pem, signing_input.encode(),
                                                hashlib.sha256).digest())
    other_pair = sign_token(generate_private_key_pem(), organization_id=org, roles=["super_admin"])
    import jwt
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(invora_keys.private_pem, password=None)
    string_exp = jwt.encode({**claims, "exp": str(now - 120)}, private, algorithm="EdDSA")
    return {"alg_none": unsigned, "hs256_public_key": hs256, "other_key_pair": other_pair,
            "string_exp": string_exp}


# -- the probe ----------------------------------------------------------------------------------------------


@dataclass
class Probe:
    suite: dict[str, str]
    operations: list[Operation]
    ids: dict[str, str]
    keys: dict[str, str]
    forged: dict[str, str]
    tally: Tally = field(default_factory=Tally)
    replayed_to_owner: int = 0  # stored responses the probe's own principal did get back


async def _request(client: httpx.AsyncClient, method: str, url: str, key: str | None = None,
                   **kwargs) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}) or {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return await client.request(method, url, headers=headers, **kwargs)


def _refused(response: httpx.Response, *expected: int) -> bool:
    return response.status_code in expected if expected else 400 <= response.status_code < 500


async def _probe_operation(probe: Probe, client: httpx.AsyncClient, operation: Operation) -> None:
    tally, ids, keys = probe.tally, probe.ids, probe.keys
    url = _url(operation, ids)
    body = body_for(operation, ids)
    method = operation.method
    query = required_query(operation, ids)
    payload: dict[str, Any] = {"json": body} if body is not None else {}
    if query:
        payload["params"] = query
    label = operation.label

    async def check(category: str, what: str, response_or_none, *expected: int, leak: bool = False,
                    empty_read_ok: bool = False) -> None:
        response = response_or_none
        refused = _refused(response, *expected)
        if empty_read_ok and method == "GET" and response.status_code == 200:
            refused = True  # a read answered from the caller's own scope: refused if nothing of A is in it
        if leak and MARKER in response.text:
            refused = False
        tally.record(category, refused, f"{label} [{what}] -> {response.status_code} {response.text[:200]}")

    # no key, forged keys
    await check("no_key", "none", await _request(client, method, url, **payload), 401)
    for name, forged in probe.forged.items():
        await check("forged_key", name, await _request(client, method, url, forged, **payload), 401)

    # another organization's ids: B's admin key
    has_ids = "{" in operation.path
    if has_ids:
        await check("other_org_ids", "path ids", await _request(client, method, url, keys["b_admin"], **payload),
                    leak=True, empty_read_ok=True)
    elif method == "GET":
        params = {p["name"]: ids.get(p["name"], ids["external_customer_id"]) for p in operation.parameters("query")
                  if _string_schema(operation.document, p.get("schema", {})) is not None
                  and p["name"] in ("external_customer_id", "external_subscription_id", "plan_code", "code")}
        response = await _request(client, method, url, keys["b_admin"], params=params)
        tally.record("other_org_ids", response.status_code < 500 and MARKER not in response.text,
                     f"{label} [list] -> {response.status_code} {response.text[:200]}")

    # a tenant key of A for another customer of A (operations open to any key name nothing of a customer)
    if operation.roles is not None:
        await check("tenant_other_customer", "tenant", await _request(client, method, url, keys["a_tenant_other"],
                                                                      **payload), 403, 404, leak=True,
                    empty_read_ok=True)

    # roles without the right
    allowed = operation.roles
    if allowed is not None:
        for role in ROLES:
            if role in allowed:
                continue
            key = keys["a_tenant_own"] if role == "tenant" else keys[f"a_{role}"]
            await check("role_without_right", role, await _request(client, method, url, key, **payload), 403)

    # NUL: query parameters, body strings, path parameters
    staff = keys["a_staff"]  # every role but tenant: the input checks are reached
    for parameter in operation.parameters("query"):
        others = "".join(f"&{name}={quote(value)}" for name, value in query.items() if name != parameter["name"])
        response = await _request(client, method, url + f"?{parameter['name']}=%00{others}", staff,
                                  **{k: v for k, v in payload.items() if k != "params"})
        await check("nul_string", f"query {parameter['name']}", response, 422)
    for root, name, _schema in root_strings(operation):
        poisoned = json.loads(json.dumps(body))
        poisoned.setdefault(root, {})[name] = "a\x00b"
        response = await _request(client, method, url, staff, json=poisoned)
        await check("nul_string", f"body {name}", response, 422)
    for parameter in operation.parameters("path"):
        response = await _request(client, method, _url(operation, ids, {parameter["name"]: "%00"}), staff,
                                  **payload)
        await check("nul_string", f"path {parameter['name']}", response, 404)

    # oversized strings
    for parameter in operation.parameters("query"):
        string = _string_schema(operation.document, parameter.get("schema", {}))
        if string is not None and "maxLength" in string:
            response = await _request(client, method, url, staff, **{
                **payload, "params": {**query, parameter["name"]: "x" * (string["maxLength"] + 1)}})
            await check("oversized_string", f"query {parameter['name']}", response, 422)
    for root, name, string in root_strings(operation):
        if "maxLength" not in string:
            continue
        poisoned = json.loads(json.dumps(body))
        poisoned.setdefault(root, {})[name] = "x" * (string["maxLength"] + 1)
        response = await _request(client, method, url, staff, json=poisoned)
        await check("oversized_string", f"body {name} > {string['maxLength']}", response, 422)

    # oversized bodies, declared and streamed
    limit = operation.spec.get("x-invora-max-body-bytes")
    if limit is not None:
        big = b'{"padding": "' + b"x" * limit + b'"}'
        headers = {"content-type": "application/json"}
        response = await _request(client, method, url, keys["a_admin"], content=big, headers=headers)
        await check("oversized_body", "content-length", response, 413)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(big), 256 * 1024):
                yield big[start:start + 256 * 1024]

        response = await _request(client, method, url, keys["a_admin"], content=chunks(), headers=headers)
        await check("oversized_body", "chunked", response, 413)


async def _probe_idempotency(probe: Probe, client: httpx.AsyncClient, operation: Operation) -> None:
    """A's admin makes the request with a key; every other principal sending the same key and body must not
    receive A's stored response."""
    url = _url(operation, probe.ids)
    body = body_for(operation, probe.ids)
    payload = {"json": body} if body is not None else {}
    key = f"probe-{uuid.uuid4().hex}"
    headers = {"Idempotency-Key": key}
    first = await _request(client, "POST", url, probe.keys["a_admin"], headers=headers, **payload)
    if first.status_code < 300:  # stored: its own principal gets the replay
        again = await _request(client, "POST", url, probe.keys["a_admin"], headers=headers, **payload)
        assert again.headers.get("idempotent-replayed") == "true", (operation.label, again.status_code, again.text)
        probe.replayed_to_owner += 1
    others = ["a_admin_other_subject", "a_billing_admin", "a_service", "a_tenant_own", "a_super_admin", "b_admin"]
    for other in others:
        response = await _request(client, "POST", url, probe.keys[other], headers=headers, **payload)
        # (an idempotent operation may answer the same content when it runs again: only a replay is a leak)
        replayed = response.headers.get("idempotent-replayed") == "true"
        probe.tally.record("idempotency_replay", not replayed and response.status_code < 500,
                           f"{operation.label} [{other}, first {first.status_code}] -> {response.status_code} "
                           f"replayed={replayed}")


@pytest.fixture(scope="module")
def probe(suite: dict[str, str], invora_keys, request) -> Probe:
    org_a, org_b = uuid.uuid4(), uuid.uuid4()

    async def run() -> Probe:
        admin_a = invora_keys.sign(org_a, ["admin"], subject="key:probe-admin")
        ids = await _seed(suite, admin_a)
        async with httpx.AsyncClient(base_url=suite["subscriptions"], timeout=30,
                                     headers={"Authorization": f"Bearer {admin_a}"}) as subs:
            own = (await _ok(subs, "GET", f"/api/v1/customers/{MARKER}_cust"))["customer"]["lago_id"]
            other = (await _ok(subs, "GET", f"/api/v1/customers/{MARKER}_other"))["customer"]["lago_id"]
        keys = {
            "a_admin": admin_a,
            "a_admin_other_subject": invora_keys.sign(org_a, ["admin"], subject="key:probe-admin-2"),
            "a_billing_admin": invora_keys.sign(org_a, ["billing_admin"]),
            "a_super_admin": invora_keys.sign(org_a, ["super_admin"]),
            "a_service": invora_keys.sign(org_a, ["service"]),
            "a_tenant_own": invora_keys.sign(org_a, ["tenant"], customer_id=own),
            "a_tenant_other": invora_keys.sign(org_a, ["tenant"], customer_id=other),
            "b_admin": invora_keys.sign(org_b, ["admin", "billing_admin"]),
            "a_staff": invora_keys.sign(org_a, ["admin", "billing_admin", "service"]),
        }
        operations = []
        async with httpx.AsyncClient(timeout=60) as client:
            for service in SERVICES:
                document = (await client.get(f"{suite[service]}/openapi.json")).json()
                for path, item in document["paths"].items():
                    for method, spec in item.items():
                        if isinstance(spec, dict) and spec.get("security"):
                            operations.append(Operation(service, suite[service], method.upper(), path, spec,
                                                        document))
        result = Probe(suite, operations, ids, keys, forged_keys(invora_keys, org_a))
        semaphore = asyncio.Semaphore(CONCURRENCY)
        # the victim's objects must outlive the probe: operations that delete or change state run last
        ordered = sorted(operations, key=lambda o: (o.method == "DELETE", o.method != "GET"))

        async def one(operation: Operation, coroutine) -> None:
            async with semaphore, httpx.AsyncClient(timeout=60) as client:
                await coroutine(result, client, operation)

        await asyncio.gather(*(one(o, _probe_operation) for o in ordered if o.method in ("GET",)))
        await asyncio.gather(*(one(o, _probe_operation) for o in ordered if o.method not in ("GET",)))
        await asyncio.gather(*(one(o, _probe_idempotency) for o in ordered if o.method == "POST"))
        # B's and the forged keys' attempts changed nothing of A's: its objects are all still there
        async with httpx.AsyncClient(timeout=30) as client:
            for base, path in [(suite["subscriptions"], f"/api/v1/customers/{MARKER}_cust"),
                               (suite["subscriptions"], f"/api/v1/subscriptions/{MARKER}_sub"),
                               (suite["catalog"], f"/api/v1/plans/{MARKER}_plan"),
                               (suite["notifications"], f"/api/v1/webhook_endpoints/{ids['lago_id']}")]:
                response = await _request(client, "GET", base + path, admin_a)
                result.tally.record("other_org_ids", response.status_code == 200,
                                    f"A's {path} after the probe -> {response.status_code}")
        return result

    result = asyncio.run(run())
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    summary = (f"\nsecurity probe: {len(result.operations)} operations of {len(SERVICES)} services; "
               f"{result.replayed_to_owner} stored responses replayed to their own principal\n"
               + result.tally.table() + "\n")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        print(summary, flush=True)  # shown whether or not pytest captures output
    return result


def test_every_operation_is_probed(probe: Probe) -> None:
    assert len(probe.operations) > 50
    services = {o.service for o in probe.operations}
    assert {"catalog", "subscriptions", "notifications"} <= services
    assert probe.replayed_to_owner > 10  # the replays refused to others were real stored responses


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_attempt_is_refused(probe: Probe, category: str) -> None:
    assert probe.tally.attempts[category] > 0
    failures = probe.tally.failures[category]
    assert not failures, f"{len(failures)} of {probe.tally.attempts[category]} not refused:\n" + "\n".join(
        failures[:40])


def test_every_input_string_has_a_documented_maximum(probe: Probe) -> None:
    """Item 6: a string without `maxLength` (or an enum, a format, a bounded pattern) has no documented limit."""
    unbounded = []
    for operation in probe.operations:
        for parameter in operation.parameters("query"):
            string = _string_schema(operation.document, parameter.get("schema", {}))
            if string is not None and not _bounded(string):
                unbounded.append(f"{operation.label} query {parameter['name']}")
        schema = operation.body_schema()
        if schema is not None:
            unbounded += [f"{operation.label} body {where}"
                          for where in _unbounded_strings(operation.document, schema, "", set())]
    assert not unbounded, "\n".join(unbounded)


def _bounded(string: dict[str, Any]) -> bool:
    pattern = string.get("pattern", "")
    bounded_pattern = bool(pattern) and not re.search(r"(?<!\\)[*+]|\{\d+,\}", pattern)
    return ("maxLength" in string or "enum" in string or "const" in string or bounded_pattern
            or string.get("format") in ("uuid", "date-time", "date"))


def _unbounded_strings(document: dict[str, Any], schema: dict[str, Any], path: str, seen: set[str]) -> Iterator[str]:
    if "$ref" in schema:
        if schema["$ref"] in seen or schema["$ref"].endswith("/JsonValue"):  # free-form JSON: bounded as a whole
            return
        seen = seen | {schema["$ref"]}
        schema = resolve(document, schema)
    for union in ("anyOf", "oneOf"):
        for option in schema.get(union, []):
            yield from _unbounded_strings(document, option, path, seen)
    if schema.get("type") == "string" and not _bounded(schema):
        yield path or "(root)"
    for name, sub in (schema.get("properties") or {}).items():
        yield from _unbounded_strings(document, sub, f"{path}.{name}" if path else name, seen)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _unbounded_strings(document, schema["additionalProperties"], f"{path}.*", seen)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        yield from _unbounded_strings(document, schema["items"], f"{path}[]", seen)
