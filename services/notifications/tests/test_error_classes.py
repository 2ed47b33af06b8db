"""Each way an attempt can fail is recorded with its class: dns, connect, tls (timeout, http and ssrf_blocked
are covered with retries, isolation and SSRF)."""

import datetime as dt
import ipaddress
import socket
import ssl
import uuid

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.ssrf.resolver import system_lookup


async def _first_attempt(client, kit, producer, org, endpoint) -> dict:
    event = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["attempts"])
    assert detail["status"] == "retrying"
    return detail["attempts"][0]


async def test_a_refused_connection_is_connect(notifications, producer, kit):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, f"http://127.0.0.1:{port}/x", signature_algo="hmac")
    attempt = await _first_attempt(client, kit, producer, org, endpoint)
    assert attempt["error_class"] == "connect" and attempt["status_code"] is None


async def test_a_name_that_stops_resolving_is_dns(notifications, producer, kit):
    answers = {"flaky.test": ["127.0.0.1"]}

    async def lookup(host, port):
        if host in answers:
            return [ipaddress.ip_address(a) for a in answers[host]]
        if host.endswith(".test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return await system_lookup(host, port)

    runtime = notifications.app.state.runtime
    runtime.lookup = lookup
    try:
        org = uuid.uuid4()
        client = notifications.client(org)
        endpoint = await kit.create_endpoint(client, "http://flaky.test:9/x", signature_algo="hmac")
        answers.clear()
        attempt = await _first_attempt(client, kit, producer, org, endpoint)
        assert attempt["error_class"] == "dns"
    finally:
        runtime.lookup = system_lookup


@pytest.fixture
async def self_signed_receiver():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    import tempfile
    from pathlib import Path

    directory = Path(tempfile.mkdtemp())
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    received: list = []

    async def handle(request):
        received.append(await request.read())
        return web.Response()

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    yield f"https://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def test_an_untrusted_certificate_is_tls(notifications, producer, kit, self_signed_receiver):
    url, received = self_signed_receiver
    org = uuid.uuid4()
    client = notifications.client(org)
    endpoint = await kit.create_endpoint(client, url, signature_algo="hmac")
    attempt = await _first_attempt(client, kit, producer, org, endpoint)
    assert attempt["error_class"] == "tls" and "certificate" in attempt["error_message"].lower()
    assert received == []
