"""Every route answers bad input with a 4xx and Lago's error body, never a 500 (a small fuzzer)."""

from __future__ import annotations

import itertools
import json
import re

WEIRD_IDS = ["%00", "x" * 300, "%F0%9F%92%A5", "..%2F..%2Fetc", "%20", "1"]
WEIRD_VALUES = [None, "", "\x00", "x" * 5000, -1, 2**70, 1.5, True, [], {}, {"a": {"b": [1]}}, "NaN",
                "2026-13-45T99:00:00Z", "\ud800"]
WEIRD_QUERIES = ["?page=0", "?per_page=1000", "?page=abc", "?status[]=%00", "?metadata[%00]=x",
                 "?countries[]=%00", "?used=-5", "?privilege=%00", "?external_customer_id=%00",
                 "?search_term=%00", "?include_expired=maybe", "?status=zombie"]


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


async def test_no_route_answers_500(subs, api):
    await api.customer("cus")
    spec = (await api.client.get("/openapi.json")).json()
    failures = []
    for path, methods in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in methods.items():
            root = None
            body_schema = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {})
            if body_schema:
                ref = body_schema["schema"].get("$ref", "")
                model = spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
                root = next(iter(model.get("properties", {})), None)
            bodies: list = [None, {}, [], "text"]
            if root:
                inner = spec["components"]["schemas"].get(
                    spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"][root].get("$ref", "/").rsplit(
                        "/", 1)[-1], {})
                fields = list(inner.get("properties", {})) or ["x"]
                bodies += [{root: None}, *({root: dict.fromkeys(fields, v)} for v in WEIRD_VALUES[:6])]
                bodies += [{root: {field: value}} for field, value in itertools.product(fields, WEIRD_VALUES)]
            for identifier in WEIRD_IDS:
                url = _fill(path, identifier)
                for body in bodies[:4] if identifier != "1" else bodies:
                    # json.dumps escapes lone surrogates, which httpx's own encoder cannot send
                    response = await api.client.request(method.upper(), url, content=json.dumps(body),
                                                        headers={"content-type": "application/json"})
                    if response.status_code >= 500:
                        failures.append((method, url, str(body)[:200], response.status_code, response.text[:200]))
            for query in WEIRD_QUERIES:
                response = await api.client.request(method.upper(), _fill(path, "cus") + query)
                if response.status_code >= 500:
                    failures.append((method, path + query, None, response.status_code, response.text[:200]))
    assert failures == []
