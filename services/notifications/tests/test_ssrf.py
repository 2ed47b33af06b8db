"""SSRF: private targets are refused at registration and at delivery, even when DNS changes its answer."""

import ipaddress
import socket
import uuid

import pytest

from notifications.ssrf.policy import TargetPolicy, TargetRefused, parse_target
from notifications.ssrf.resolver import GuardedResolver, system_lookup

BLOCKED = [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "100.127.255.254", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1",
    "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1",
    "2001:db8::1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"]


def _ip(text: str):
    return ipaddress.ip_address(text)


@pytest.mark.parametrize("address", BLOCKED)
def test_private_and_special_addresses_are_refused(address):
    assert TargetPolicy().refusal(_ip(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert TargetPolicy().refusal(_ip(address)) is None


def test_allow_list_and_dev_mode_lift_only_what_they_name():
    allow = TargetPolicy(allow_networks=(ipaddress.ip_network("10.20.0.0/16"),))
    assert allow.refusal(_ip("10.20.3.4")) is None and allow.refusal(_ip("::ffff:10.20.3.4")) is None
    assert allow.refusal(_ip("10.21.0.1")) is not None and allow.refusal(_ip("127.0.0.1")) is not None
    dev = TargetPolicy(dev_mode=True)
    assert dev.refusal(_ip("127.0.0.1")) is None and dev.refusal(_ip("::1")) is None
    assert dev.refusal(_ip("10.0.0.1")) is not None and dev.refusal(_ip("169.254.169.254")) is not None


def test_plain_http_only_for_loopback_in_dev_mode_or_when_allowed():
    loopback, public = [_ip("127.0.0.1")], [_ip("93.184.216.34")]
    dev, strict, http_ok = TargetPolicy(dev_mode=True), TargetPolicy(), TargetPolicy(allow_http=True)
    dev.check_addresses(parse_target("http://localhost:8080/x"), loopback)
    with pytest.raises(TargetRefused, match="loopback"):
        dev.check_addresses(parse_target("http://example.com/x"), public)
    with pytest.raises(TargetRefused) as refused:
        strict.check_addresses(parse_target("http://example.com/x"), public)
    assert refused.value.code == "url_must_use_https"
    http_ok.check_addresses(parse_target("http://example.com/x"), public)
    strict.check_addresses(parse_target("https://example.com/x"), public)


@pytest.mark.parametrize("url", ["http://2130706433/", "http://127.1/", "http://0x7f.0.0.1/", "https://010.0.0.1/",
                                 "javascript:alert(1)", "https:///nohost", "http://[fe80::1%25eth0]/"])
def test_numeric_host_tricks_and_malformed_urls_are_invalid(url):
    with pytest.raises(TargetRefused) as refused:
        parse_target(url)
    assert refused.value.code == "url_is_invalid"


async def test_the_resolver_hands_aiohttp_exactly_the_addresses_it_checked():
    async def lookup(host, port):
        return [_ip("127.0.0.1")]

    resolver = GuardedResolver(TargetPolicy(dev_mode=True), lambda: lookup, scheme="http")
    (result,) = await resolver.resolve("hooks.example", 8080, socket.AF_UNSPEC)
    assert result["host"] == "127.0.0.1" and result["hostname"] == "hooks.example" and result["port"] == 8080
    assert result["flags"] & socket.AI_NUMERICHOST
    strict = GuardedResolver(TargetPolicy(), lambda: lookup, scheme="https")
    with pytest.raises(OSError, match="loopback"):
        await strict.resolve("hooks.example", 443, socket.AF_UNSPEC)


class FakeDns:
    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int):
        self.calls.append(host)
        if host in self.answers:
            return [_ip(a) for a in self.answers[host]]
        return await system_lookup(host, port)


@pytest.fixture(scope="module")
def fake_dns():
    return FakeDns()


@pytest.fixture(scope="module")
async def strict_service(module_notifications, fake_dns):
    running = await module_notifications(dev_mode=False, ssrf_allow_cidrs=["10.20.0.0/16"])
    running.app.state.runtime.lookup = fake_dns
    return running


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://10.0.0.5/hook", "https://169.254.169.254/latest/meta-data",
    "https://100.64.1.1/", "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://224.0.0.1/", "https://0.0.0.0/",
    "https://localhost/hook", "https://internal.test/hook", "https://mixed.test/hook",
])
async def test_registration_refuses_private_targets(strict_service, fake_dns, url):
    fake_dns.answers.update({"internal.test": ["192.168.10.10"], "mixed.test": ["93.184.216.34", "10.0.0.1"]})
    client = strict_service.client(uuid.uuid4())
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {"webhook_url": url}})
    assert response.status_code == 422, response.text
    assert response.json()["error_details"] == {"webhook_url": ["url_address_not_allowed"]}


async def test_registration_accepts_public_and_allow_listed_targets_and_requires_https(strict_service, fake_dns, kit):
    fake_dns.answers.update({"public.test": ["93.184.216.34"], "allowed.test": ["10.20.1.1"]})
    client = strict_service.client(uuid.uuid4())
    await kit.create_endpoint(client, "https://public.test/hooks")
    await kit.create_endpoint(client, "https://allowed.test/hooks")
    await kit.create_endpoint(client, "https://10.20.9.9/hooks")
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {
        "webhook_url": "http://public.test/hooks"}})
    assert response.json()["error_details"] == {"webhook_url": ["url_must_use_https"]}


async def test_dev_mode_allows_loopback_http_and_nothing_else_private(notifications, kit):
    client = notifications.client(uuid.uuid4())
    await kit.create_endpoint(client, "http://127.0.0.1:9/dev")
    await kit.create_endpoint(client, "http://localhost:9/dev")
    for url in ("http://10.0.0.1/x", "http://192.168.0.10/x", "https://169.254.169.254/x"):
        response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {"webhook_url": url}})
        assert response.json()["error_details"] == {"webhook_url": ["url_address_not_allowed"]}, url


async def test_a_name_that_starts_resolving_to_loopback_is_blocked_at_delivery(
    strict_service, fake_dns, producer, receivers, kit
):
    """DNS rebinding: registered while public, later answers 127.0.0.1; nothing reaches the local receiver."""
    receiver = await receivers()
    fake_dns.answers["rebind.test"] = ["93.184.216.34"]
    org = uuid.uuid4()
    client = strict_service.client(org)
    endpoint = await kit.create_endpoint(client, f"https://rebind.test:{receiver.port}/hook", signature_algo="hmac")
    fake_dns.answers["rebind.test"] = ["127.0.0.1"]
    event = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["attempts"])
    attempt = detail["attempts"][0]
    assert attempt["error_class"] == "ssrf_blocked" and attempt["status_code"] is None
    assert "loopback" in attempt["error_message"]
    assert detail["status"] == "retrying" and receiver.requests == []


async def test_a_literal_private_url_is_blocked_at_delivery(strict_service, producer, receivers, kit):
    """A URL stored before the rules tightened (here: written directly) is still checked on every attempt."""
    receiver = await receivers()
    org = uuid.uuid4()
    client = strict_service.client(org)
    endpoint = await kit.create_endpoint(client, "https://10.20.0.1/hook", signature_algo="hmac")
    async with strict_service.database.sessionmaker() as session:
        from sqlalchemy import text

        await session.execute(text("UPDATE webhook_endpoints SET webhook_url = :u WHERE id = :i"),
                              {"u": f"https://127.0.0.1:{receiver.port}/hook", "i": uuid.UUID(endpoint["lago_id"])})
        await session.commit()
    event = await producer.emit(org, "invoice.created")
    delivery = await kit.delivery_of(client, endpoint["lago_id"], event.id)
    detail = await kit.wait_for_delivery(client, delivery["lago_id"], lambda d: d["attempts"])
    assert detail["attempts"][0]["error_class"] == "ssrf_blocked" and receiver.requests == []


async def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(
    notifications, producer, receivers, kit, fake_dns
):
    """`hooks.dev.test` exists only in our resolver: the request can only arrive if aiohttp used our answer."""
    receiver = await receivers()
    runtime = notifications.app.state.runtime
    fake_dns.answers["hooks.dev.test"] = ["127.0.0.1"]
    runtime.lookup = fake_dns
    try:
        org = uuid.uuid4()
        client = notifications.client(org)
        endpoint = await kit.create_endpoint(client, f"http://hooks.dev.test:{receiver.port}/in",
                                             signature_algo="hmac")
        calls_at_registration = fake_dns.calls.count("hooks.dev.test")
        await producer.emit(org, "invoice.created")
        (request,) = await receiver.wait_for(1)
        assert request.headers["Host"] == f"hooks.dev.test:{receiver.port}"
        kit.verify_request(request, secret=endpoint["secret"])
        assert fake_dns.calls.count("hooks.dev.test") == calls_at_registration + 1
    finally:
        runtime.lookup = system_lookup
