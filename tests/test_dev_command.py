"""`invora dev` end to end: real PostgreSQL, Kafka and the six services as child processes,
started on free ports in a temporary data directory, then stopped with SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt

from invora.db.migrate import SERVICES
from invora.infra.ports import port_open
from invora.testing.dev_run import REPO_ROOT, DevPorts, DevRun


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invora.cli", *args], check=False, cwd=REPO_ROOT, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=30,
    )


def verify_key(token: str, data_dir: Path) -> dict:
    public_pem = (data_dir / "keys" / "public.pem").read_bytes()
    return jwt.decode(token, public_pem, algorithms=["EdDSA", "RS256"], issuer="invora")


def assert_all_up(summary: dict, ports: DevPorts) -> None:
    expected = {service: f"http://127.0.0.1:{ports.base + i}" for i, service in enumerate(SERVICES)}
    assert summary["services"] == expected
    with httpx.Client(timeout=5.0) as client:
        for service, url in expected.items():
            assert client.get(f"{url}/ready").status_code == 200, service
            assert client.get(f"{url}/health").status_code == 200, service
        assert summary["api_url"] == f"http://127.0.0.1:{ports.gateway}"
        health = client.get(f"{summary['api_url']}/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        assert set(health.json()["services"]) == set(SERVICES)


def assert_services_reach_each_other(summary: dict) -> None:
    """A subscription pins a plan version read from the catalog over HTTP: that works out of the box,
    both asked through the one origin."""
    headers = {"Authorization": f"Bearer {summary['api_key']}"}
    catalog = subscriptions = summary["api_url"]
    with httpx.Client(timeout=10.0, headers=headers) as client:
        plan = client.post(f"{catalog}/api/v1/plans", json={"plan": {
            "name": "Dev", "code": "dev_plan", "interval": "monthly", "amount_cents": 1000,
            "amount_currency": "EUR"}})
        assert plan.status_code == 200, plan.text
        created = client.post(f"{subscriptions}/api/v1/subscriptions", json={"subscription": {
            "external_customer_id": "dev_customer", "plan_code": "dev_plan", "external_id": "dev_sub"}})
        assert created.status_code == 200, created.text
        assert created.json()["subscription"]["plan_code"] == "dev_plan"


def assert_invoices_are_charged_on_the_stripe_fake(summary: dict, ports: DevPorts) -> None:
    """The issue's "done when" through `make run`: payments talks to the localstripe this run started; a
    pay-in-advance subscription's invoice is charged there and shows `succeeded`, a declining card `failed`."""
    import stripe

    assert summary["stripe_api_base"] == f"http://127.0.0.1:{ports.stripe}"
    fake = stripe.StripeClient("sk_test_dev", base_addresses={"api": summary["stripe_api_base"]},
                               http_client=stripe.HTTPXClient(timeout=10, allow_sync_methods=True))
    api = summary["api_url"]
    with httpx.Client(timeout=10.0, headers={"Authorization": f"Bearer {summary['api_key']}"}) as client:
        def ok(method: str, path: str, body: dict | None = None) -> dict:
            response = client.request(method, f"{api}{path}", json=body)
            assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
            return response.json()

        ok("POST", "/api/v1/payment_providers", {"payment_provider": {
            "provider_type": "stripe", "code": "stripe_dev", "name": "Stripe", "secret_key": "sk_test_dev"}})
        ok("POST", "/api/v1/plans", {"plan": {"name": "Paid", "code": "paid_plan", "interval": "monthly",
                                              "amount_cents": 2_500, "amount_currency": "EUR", "pay_in_advance": True}})
        for external_id, card in (("dev_pays", "4242424242424242"), ("dev_declines", "4000000000000341")):
            customer = fake.v1.customers.create({"email": f"{external_id}@example.test"})
            method = fake.v1.payment_methods.create({"type": "card", "card": {
                "number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
            fake.v1.payment_methods.attach(method.id, {"customer": customer.id})
            ok("POST", "/api/v1/customers", {"customer": {
                "external_id": external_id, "name": external_id, "currency": "EUR",
                "billing_configuration": {"payment_provider": "stripe", "payment_provider_code": "stripe_dev",
                                          "provider_customer_id": customer.id}}})
            ok("POST", "/api/v1/subscriptions", {"subscription": {
                "external_customer_id": external_id, "plan_code": "paid_plan", "external_id": f"sub_{external_id}"}})
        for external_id, expected in (("dev_pays", "succeeded"), ("dev_declines", "failed")):
            deadline = time.monotonic() + 60
            while True:
                invoices = ok("GET", f"/api/v1/invoices?external_customer_id={external_id}")["invoices"]
                if invoices and invoices[0]["payment_status"] == expected:
                    break
                assert time.monotonic() < deadline, (external_id, invoices)
                time.sleep(0.3)
            payments = ok("GET", f"/api/v1/payments?external_customer_id={external_id}")["payments"]
            assert [p["payment_status"] for p in payments] == [expected]
            if expected == "failed":
                assert payments[0]["failure"]["code"]


def assert_one_origin_printed_first(run: DevRun, summary: dict) -> None:
    deadline = time.monotonic() + 10
    while "admin API key" not in (text := run.output.read_text(errors="replace")):
        assert time.monotonic() < deadline, run.diagnostics()
        time.sleep(0.1)
    table = text.split("ready in", 1)[1].splitlines()
    addresses = [line for line in table if "http://" in line]
    assert summary["api_url"] in addresses[0] and "one origin" in addresses[0], addresses[:3]


def stop_and_assert_clean(run: DevRun) -> None:
    assert run.terminate() == 0, run.diagnostics()
    assert run.survivors() == []
    busy = [port for port in run.ports.all() if port_open("127.0.0.1", port)]
    assert busy == [], f"ports still listening: {busy}"
    assert not (run.data_dir / "dev.json").exists()




def test_dev_runs_the_suite_and_stops_cleanly(tmp_path: Path, dev_data_dir: Path) -> None:
    ports = DevPorts.pick()

    first = DevRun(dev_data_dir, ports, tmp_path / "first.out")
    try:
        summary = first.wait_for_dev_json()
        first.record_processes()
        assert_all_up(summary, ports)
        assert summary["kafka"] == f"127.0.0.1:{ports.kafka}"
        assert_services_reach_each_other(summary)
        assert_invoices_are_charged_on_the_stripe_fake(summary, ports)
        assert_one_origin_printed_first(first, summary)

        claims = verify_key(summary["api_key"], dev_data_dir)
        assert claims["org"] == summary["organization_id"]
        assert claims["roles"] == ["admin"]
        assert "exp" not in claims

        created = run_cli(
            "keys", "create", "--data-dir", str(dev_data_dir), "--org", summary["organization_id"],
            "--role", "billing_admin", "--expires", "1h",
        )
        assert created.returncode == 0, created.stderr
        key_claims = verify_key(created.stdout.strip(), dev_data_dir)
        assert key_claims["org"] == summary["organization_id"]
        assert key_claims["roles"] == ["billing_admin"]

        stop_and_assert_clean(first)
    finally:
        if first.process.poll() is None:
            first.kill_everything()

    second = DevRun(dev_data_dir, ports, tmp_path / "second.out")
    try:
        again = second.wait_for_dev_json()
        second.record_processes()
        assert again["organization_id"] == summary["organization_id"]
        assert_all_up(again, ports)
        stop_and_assert_clean(second)
    finally:
        if second.process.poll() is None:
            second.kill_everything()


def test_keys_create_rejects_bad_input(tmp_path: Path) -> None:
    from invora.auth.keys import ensure_key_pair

    private, _ = ensure_key_pair(tmp_path / "keys")
    org = "0b7c6d1e-8a52-4f8e-9d0e-4d1c1f6f8a11"
    for args in (["--org", "not-a-uuid", "--role", "admin"], ["--org", org, "--role", "root"],
                 ["--org", org, "--role", "tenant"], ["--org", org, "--role", "tenant", "--customer-id", "cus_42"],
                 ["--org", org, "--role", "admin", "--expires", "yesterday"]):
        result = run_cli("keys", "create", "--private-key", str(private), *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stdout == ""
