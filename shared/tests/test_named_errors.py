"""Named domain errors render exactly the bodies the string-code calls they replaced rendered."""

from __future__ import annotations

import json

from invora.auth.errors import ExpiredApiKey, ForbiddenCustomer, ForbiddenRole, InvalidApiKey, MissingApiKey
from invora.errors import (
    BadRequest,
    Conflict,
    DatabaseUnavailable,
    FieldError,
    Forbidden,
    InvalidJson,
    MissingParam,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)


class CustomerNotFound(NotFound):
    resource = "customer"


class PlanCodeTaken(FieldError):
    field, reason = "code", "value_already_exist"


class InvoiceAlreadyFinalized(Conflict):
    code = "invoice_already_finalized"


def _bytes(error) -> bytes:
    return json.dumps(error.body()).encode()


def test_a_named_error_renders_the_body_of_the_call_it_replaces() -> None:
    pairs = [
        (CustomerNotFound(), NotFound("customer")),
        (PlanCodeTaken(), ValidationFailed(code=["value_already_exist"])),
        (InvoiceAlreadyFinalized(), Conflict(code="invoice_already_finalized")),
        (MissingParam("alert"), BadRequest("param is missing or the value is empty: alert", code="missing_param")),
        (InvalidJson(), BadRequest("request body is not valid JSON", code="invalid_json")),
        (DatabaseUnavailable(), ServiceUnavailable("the database is unavailable, retry later",
                                                   code="database_unavailable")),
        (InvalidApiKey("invalid API key"), Unauthorized("invalid API key", code="invalid_api_key")),
        (ExpiredApiKey("expired API key"), Unauthorized("expired API key", code="expired_api_key")),
        (MissingApiKey("missing API key"), Unauthorized("missing API key", code="missing_api_key")),
        (ForbiddenRole("requires one of the roles: admin"), Forbidden("x", code="forbidden_role")),
        (ForbiddenCustomer(), Forbidden("this key is limited to another customer", code="forbidden_customer")),
    ]
    for named, replaced in pairs:
        assert _bytes(named) == _bytes(replaced), type(named).__name__
        assert named.status_code == replaced.status_code
        assert isinstance(named, type(replaced))  # handlers and docs that catch the base still see it


def test_bodies_carry_the_class_code() -> None:
    assert CustomerNotFound().body() == {"status": 404, "error": "Not Found", "code": "customer_not_found"}
    assert PlanCodeTaken().body() == {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
                                      "error_details": {"code": ["value_already_exist"]}}
    assert InvoiceAlreadyFinalized().body()["code"] == "invoice_already_finalized"
    assert NotFound().body()["code"] == "resource_not_found"  # the base keeps its default
