"""Parity with Lago's API v1: every (method, path) of Lago's OpenAPI document is served by the suite,
or listed with a reason in `docs/lago-compatibility.md` (section "Lago operations not served yet").

The suite's operations come from the OpenAPI document each service builds (the same documents the
gateway's route table is generated from), so no service has to run. Paths match by the position of
their parameters, not their names: Lago's `/customers/{external_customer_id}/wallets/{wallet_code}`
is served by `/api/v1/customers/{external_id}/wallets/{code}`.

Lago's document is `reference/lago-openapi.yaml` in the `shared/` folder beside the repository
(`../shared/reference/` in CI); `INVORA_LAGO_OPENAPI` may name it elsewhere.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from invora.db.migrate import SERVICES
from invora.gateway.routes import PUBLIC_PREFIX, table_from_apps

ROOT = Path(__file__).resolve().parents[1]
COMPATIBILITY_DOC = ROOT / "docs" / "lago-compatibility.md"
EXCEPTIONS_HEADING = "## Lago operations not served yet"
_METHODS = ("get", "put", "post", "delete", "patch")
_PARAMETER = re.compile(r"^\{[^/{}]+\}$")
# an exception's reason names the open issue that will build the operation: "#16", "issue 16"
_ISSUE = re.compile(r"(#|issue )\d+")


@dataclass(frozen=True, order=True)
class Operation:
    method: str  # upper case
    shape: tuple[str, ...]  # path segments below /api/v1, every parameter as "{}"

    @property
    def path(self) -> str:
        return "/" + "/".join(self.shape)


def shape_of(path: str) -> tuple[str, ...]:
    """A path's segments below the API prefix, each parameter replaced by `{}` (match by position)."""
    path = "/" + path.strip("/")
    if path.startswith(PUBLIC_PREFIX.rstrip("/")):
        path = path[len(PUBLIC_PREFIX.rstrip("/")):]
    return tuple("{}" if _PARAMETER.match(s) else s for s in path.strip("/").split("/"))


def lago_document_path() -> Path:
    if configured := os.environ.get("INVORA_LAGO_OPENAPI"):
        return Path(configured)
    for folder in ROOT.parents:
        candidate = folder / "shared" / "reference" / "lago-openapi.yaml"
        if candidate.is_file():
            return candidate
    pytest.fail("Lago's OpenAPI document not found: put shared/reference/lago-openapi.yaml beside the "
                "repository or set INVORA_LAGO_OPENAPI")


def lago_operations(document: dict) -> dict[Operation, tuple[str, str]]:
    """Every Lago operation → (its first tag, the path as Lago writes it)."""
    operations = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                tag = (operation.get("tags") or ["untagged"])[0]
                operations[Operation(method.upper(), shape_of(path))] = (tag, path)
    return operations


def parse_exceptions(markdown: str) -> dict[Operation, str]:
    """The exceptions table: `| method | path | reason |` rows under EXCEPTIONS_HEADING."""
    if EXCEPTIONS_HEADING not in markdown:
        raise AssertionError(f"{COMPATIBILITY_DOC.name} has no section {EXCEPTIONS_HEADING!r}")
    section = markdown.split(EXCEPTIONS_HEADING, 1)[1].split("\n## ", 1)[0]
    exceptions: dict[Operation, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) != 3 or cells[0].lower() == "method" or set(cells[0]) <= set("-: "):
            continue
        method, path, reason = cells[0].upper(), cells[1].strip("`"), cells[2]
        operation = Operation(method, shape_of(path))
        if operation in exceptions:
            raise AssertionError(f"{method} {path} is listed twice")
        exceptions[operation] = reason
    return exceptions


def served_operations(documents_table) -> set[Operation]:
    return {Operation(method, shape_of(p.template)) for p in documents_table.paths for method in p.methods}


def report(operations: dict[Operation, str | tuple[str, str]], lago: dict[Operation, tuple[str, str]]) -> str:
    by_tag: dict[str, list[str]] = defaultdict(list)
    for operation in sorted(operations):
        tag, path = lago.get(operation, ("not in Lago's document", operation.path))
        by_tag[tag].append(f"{operation.method:6} {path}")
    return "\n".join(f"{tag} ({len(lines)}):\n    " + "\n    ".join(lines) for tag, lines in sorted(by_tag.items()))


@pytest.fixture(scope="module")
def lago() -> dict[Operation, tuple[str, str]]:
    return lago_operations(yaml.safe_load(lago_document_path().read_text()))


@pytest.fixture(scope="module")
def served() -> set[Operation]:
    return served_operations(table_from_apps(SERVICES))


@pytest.fixture(scope="module")
def exceptions() -> dict[Operation, str]:
    return parse_exceptions(COMPATIBILITY_DOC.read_text())


def test_every_lago_operation_is_served_or_a_documented_exception(lago, served, exceptions, capsys):
    missing = {op: lago[op] for op in lago if op not in served and op not in exceptions}
    excepted = {op: lago[op] for op in lago if op not in served and op in exceptions}
    with capsys.disabled():
        print(f"\nLago parity: {len(lago) - len(excepted) - len(missing)} of {len(lago)} Lago operations served; "
              f"{len(excepted)} documented exceptions:\n{report(excepted, lago)}")
    assert not missing, (
        f"{len(missing)} Lago operations are neither served nor listed under {EXCEPTIONS_HEADING!r} in "
        f"docs/lago-compatibility.md:\n{report(missing, lago)}")


def test_no_exception_is_stale(lago, served, exceptions):
    """An exception for an operation the suite serves (or that Lago does not have) must go."""
    stale = {op: "" for op in exceptions if op in served}
    unknown = {op: "" for op in exceptions if op not in lago}
    assert not stale, f"served but listed as not served: remove from {COMPATIBILITY_DOC.name}:\n{report(stale, lago)}"
    assert not unknown, f"listed but not a Lago operation:\n{report(unknown, lago)}"


def test_every_exception_names_the_issue_that_builds_it(exceptions):
    unnamed = [f"{op.method} {op.path}: {reason!r}" for op, reason in exceptions.items() if not _ISSUE.search(reason)]
    assert not unnamed, "each exception's reason names an issue (#N):\n" + "\n".join(unnamed)


def test_paths_match_by_parameter_position_not_name():
    assert shape_of("/customers/{external_customer_id}/wallets/{wallet_code}") == shape_of(
        "/api/v1/customers/{external_id}/wallets/{code}")
    assert shape_of("/plans/{code}") != shape_of("/plans/drafts")
    assert shape_of("/plans/{code}/entitlements") != shape_of("/plans/{code}")


def test_the_exceptions_table_is_read_as_written():
    markdown = (f"intro\n{EXCEPTIONS_HEADING}\n\n| method | path | reason (issue) |\n|---|---|---|\n"
                "| GET | `/credit_notes/{lago_id}` | credit notes (#99) |\n| post | /payments | payments #16 |\n"
                "\n## Next section\n| GET | /ignored | not an exception |\n")
    assert parse_exceptions(markdown) == {
        Operation("GET", ("credit_notes", "{}")): "credit notes (#99)",
        Operation("POST", ("payments",)): "payments #16",
    }
    with pytest.raises(AssertionError, match="listed twice"):
        parse_exceptions(markdown.replace("| post | /payments |", "| GET | /credit_notes/{id} |"))
