"""Each service's OpenAPI document is accurate: Schemathesis, run as an external fuzzer would run it,
finds no server error and no mismatch between what the document admits and what the service does.

The services run over real HTTP (uvicorn in threads of this process, each on its own migrated
database); Schemathesis runs as its command-line tool, several runs at once, deterministic and
with few examples, so the whole is short and repeatable. Its findings are read from its NDJSON log.

Known and accepted: a request the schema admits may still break a business rule no JSON schema can
state (a code already taken, a reference to an object that does not exist, a date in the past, a
charge's tiers that do not follow each other…). Lago answers those with 422, and so do we;
`BUSINESS_RULES` lists them, by operation, field and error code, and nothing else is forgiven.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from invora.testing.live import serve
from invora.testing.services import service_settings

MAX_EXAMPLES = 5
# one Schemathesis run each, all at once: (service, operation filter)
RUNS: dict[str, tuple[str, list[str]]] = {
    "catalog": ("catalog", []),
    "subscriptions": ("subscriptions", []),
    "invoicing": ("invoicing", []),
    "payments": ("payments", []),
    "wallets": ("wallets", []),
    "notifications": ("notifications", []),
}

# (operation, field, error code) a request the schema admits may still get, as regular expressions
BUSINESS_RULES: list[tuple[str, str, str]] = [
    (r".*", r".*", r"value_already_exist"),  # codes and external ids are unique
    (r".*", r".*", r"[a-z_]+_not_found"),  # a reference to an object that does not exist
    (r".*", r".*", r"duplicated_[a-z_]+"),  # unique by key inside a list (metadata keys, privilege codes…)
    (r".*", r"(.*\.)?properties", r"(missing|invalid)_(?!characters$)[a-z_]+"),  # each charge model's rules
    (r".*", r"(.*\.)?values", r"invalid_filter_values"),  # a charge filter names the metric's filter values
    (r".*", r"expiration_at|ending_at", r"invalid_date"),  # in the past, or before the start
    (r".*", r"add_on|currency", r"currencies_does_not_match"),  # an add-on, a plan, a customer in other currencies
    (r"PUT .*", r"status", r"subscription_not_editable"),  # terminated subscriptions are read-only
    # an alert has at most one recurring threshold (a rule across the list's items)
    (r"(POST|PUT) /api/v1/subscriptions/\{external_id\}/alerts.*", r"(\d+\.)?thresholds",
     r"only_one_recurring_threshold"),
    (r"(POST|PUT) /api/v1/customers/\{external_customer_id\}/wallets/\{wallet_code\}/alerts.*",
     r"(alerts\.\d+\.)?thresholds", r"only_one_recurring_threshold"),
    # an update is checked merged with the stored object (a coupon turned `fixed_amount` needs its amount…)
    (r"PUT .*", r"field_name|recurring", r"value_is_mandatory|not_compatible_with_aggregation_type"),
    (r"PUT .*", r"amount_cents|amount_currency|percentage_rate|frequency_duration|expiration_at",
     r"value_is_mandatory|value_is_out_of_range"),
    (r"PUT .*", r"privileges\.\d+\.config", r"invalid_select_options"),  # a stored privilege keeps its type
    (r"PUT /api/v1/plans/\{code\}", r"(fixed_)?charges\.\d+\.(billable_metric_id|add_on_id|charge_model)",
     r"value_is_mandatory"),  # a `code` naming no charge of the plan makes a new one
    # a manual credit or a purchase of usage credits within the bounds the deployment configures (wallets settings)
    (r"POST /api/v1/customers/\{external_customer_id\}/(usage_)?credits", r"amount_cents", r"value_is_out_of_range"),
    # a metric's expression is Lago's language (a grammar the schema cannot state), and needs a field for its value;
    # evaluating one needs the properties it reads, as numbers where it computes, and no division by zero
    (r"(POST|PUT) /api/v1/billable_metrics.*", r"expression", r"invalid_expression|value_is_mandatory"),
    (r"(POST|PUT) /api/v1/billable_metrics.*", r"field_name", r"value_is_mandatory"),
    (r"POST /api/v1/billable_metrics/evaluate_expression", r"event(\..+)?",
     r"invalid_event|value_is_mandatory|invalid_timestamp"),
    # a charge whose plan has filters keeps at least one in a subscription's override (empty means "the plan's")
    (r"DELETE /api/v1/subscriptions/.*/filters/.*", r"filters", r"cannot_remove_last_filter"),
    # a connection's update takes the fields of its own provider only (the PUT body names no provider_type)
    (r"PUT /api/v1/payment_providers/\{code\}", r".*", r"not_accepted_by_provider"),
    # a payment retry charges the customer's default method; naming another is refused (docs/payments.md)
    (r"POST /api/v1/invoices/\{lago_id\}/retry_payment", r"payment_method", r"not_supported"),
    # Lago's `full_usage=true` needs a charge or group filter (a rule across parameters), and a metric whose
    # per-period usage folds into the lifetime's (docs/metering.md)
    (r"GET /api/v1/customers/\{external_customer_id\}/current_usage", r"full_usage",
     r"charge_or_group_filter_required|not_supported_for_aggregation"),
    # a webhook URL must resolve, to public addresses, over https (unless allowed)
    (r".*", r"webhook_url", r"url_unresolvable|url_address_not_allowed|url_must_use_https"),
]


@dataclass(frozen=True)
class FuzzRun:
    process: subprocess.Popen
    directory: Path


@dataclass(frozen=True)
class Finding:
    phase: str
    operation: str
    check: str
    status: int | None
    body: str
    request: str

    def __str__(self) -> str:
        return f"[{self.phase}] {self.operation}: {self.check} -> {self.status} {self.body[:300]}\n    {self.request}"


@pytest.fixture(scope="module")
def suite(migrated_database, invora_kafka: str, invora_keys) -> Iterator[dict[str, str]]:
    """The catalog, the subscriptions service (wired to that catalog), the skeleton services and the
    notifications API (its delivery worker off), over HTTP."""

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
        urls["notifications"] = start(stack, "notifications", worker_enabled=False)
        yield urls


def _seed(suite: dict[str, str], key: str) -> None:
    """What the fuzzer cannot create itself: a plan in the catalog, so subscriptions to it can be made.

    Its code is "0", the string the fuzzer tries first.
    """
    plan = {"plan": {"name": "Fuzz", "code": "0", "interval": "monthly", "amount_cents": 1000,
                     "amount_currency": "EUR"}}
    response = httpx.post(f"{suite['catalog']}/api/v1/plans", json=plan, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def fuzz_runs(request: pytest.FixtureRequest, suite: dict[str, str], make_api_key,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FuzzRun]]:
    """Schemathesis against every selected service at once (each run mostly waits on its service): one log per
    run. Only the runs this session will check are started, so `-k invoicing` fuzzes invoicing alone."""
    selected = {item.callspec.params["run_name"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    runs: dict[str, FuzzRun] = {}
    try:
        for name, (service, operations) in RUNS.items():
            if name not in selected:
                continue
            directory = tmp_path_factory.mktemp(f"fuzz-{name}")
            key = make_api_key(uuid.uuid4(), ["admin", "billing_admin"])  # an organization of its own
            if service == "subscriptions":
                _seed(suite, key)
            # the document is built on its first request (seconds on a busy machine, past Schemathesis'
            # 10 s loading timeout when six are built at once): build it here, then it is cached
            assert httpx.get(f"{suite[service]}/openapi.json", timeout=120).status_code == 200
            command = [
                sys.executable, "-m", "schemathesis.cli", "run", f"{suite[service]}/openapi.json", *operations,
                "--header", f"Authorization: Bearer {key}", "--max-examples", str(MAX_EXAMPLES),
                "--generation-deterministic", "--workers", "1", "--warnings", "off",
                "--report", "ndjson", "--report-ndjson-path", str(directory / "events.ndjson"),
            ]
            with (directory / "output.txt").open("w") as output:
                process = subprocess.Popen(command, cwd=directory, stdout=output, stderr=subprocess.STDOUT)
            runs[name] = FuzzRun(process, directory)
        yield runs
    finally:
        for run in runs.values():
            if run.process.poll() is None:
                run.process.kill()
            run.process.wait()


@pytest.mark.parametrize("run_name", list(RUNS))
def test_the_openapi_document_matches_the_service(run_name: str, fuzz_runs: dict[str, FuzzRun]) -> None:
    run = fuzz_runs[run_name]
    run.process.wait(timeout=300)
    output = (run.directory / "output.txt").read_text()
    log = run.directory / "events.ndjson"
    assert log.exists() and '"EngineFinished"' in log.read_text(), output[-3000:]
    findings = [finding for finding in _findings(log) if not _forgiven(finding)]
    assert not findings, "\n".join(map(str, findings)) + "\n\n" + output[-2000:]
    assert "Runtime Error" not in output, output[-3000:]


def _findings(log: Path) -> Iterator[Finding]:
    seen: set[tuple[str, str, int | None, str]] = set()
    for line in log.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                if check.get("status") != "failure":
                    continue
                response = (recorder.get("interactions", {}).get(case_id) or {}).get("response") or {}
                case = (recorder.get("cases", {}).get(case_id) or {}).get("value", {})
                operation = f"{case['method']} {case['path']}" if case.get("path") else recorder["label"]
                finding = Finding(
                    phase=finished["phase"], operation=operation, check=check["name"],
                    status=response.get("status_code"), body=_text(response.get("content")),
                    request=f"{case.get('method')} {case.get('path')} {json.dumps(case.get('query'))} "
                            f"{json.dumps(case.get('body'))[:400]}",
                )
                key = (finding.operation, finding.check, finding.status, finding.body)
                if key not in seen:
                    seen.add(key)
                    yield finding


def _text(content: object) -> str:
    if isinstance(content, dict) and "$base64" in content:
        return base64.b64decode(content["$base64"]).decode(errors="replace")
    return "" if content is None else str(content)


def _flat(details: dict, prefix: str = "") -> dict[str, list[str]]:
    """Field → codes, batch errors (keyed by index, then field) as `<index>.<field>`."""
    flat: dict[str, list[str]] = {}
    for key, value in details.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# DELETE /subscriptions/{external_id} terminates (Lago): the terminated subscription and what hangs off
# it (its alerts, usage, charges) stay readable, as Lago's do, so a 2xx after it is no use after free
TERMINATED_STAYS_READABLE = re.compile(r"GET /api/v1/subscriptions/\{external_id\}(/.*)?")


def _forgiven(finding: Finding) -> bool:
    """A schema-valid request refused by a business rule only (see `BUSINESS_RULES`), or a read of a
    terminated subscription (`TERMINATED_STAYS_READABLE`)."""
    if finding.check == "use_after_free" and TERMINATED_STAYS_READABLE.fullmatch(finding.operation):
        return True
    if finding.check != "positive_data_acceptance":
        return False
    try:
        body = json.loads(finding.body)
    except ValueError:
        return False
    if finding.status != 422 or body.get("code") != "validation_errors":
        return False
    errors = _flat(body.get("error_details") or {})
    return bool(errors) and all(
        any(re.fullmatch(operation, finding.operation) and re.fullmatch(fields, field) and re.fullmatch(rule, code)
            for operation, fields, rule in BUSINESS_RULES)
        for field, codes in errors.items() for code in codes
    )
