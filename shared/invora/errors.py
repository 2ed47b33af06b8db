"""Typed errors carrying their HTTP status and code, rendered as Lago's error bodies.

    404 {"status": 404, "error": "Not Found", "code": "customer_not_found"}
    422 {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
         "error_details": {"field": ["value_is_mandatory"]}}

Domains name their errors (Polar's style) in their `errors.py`, subclassing these, and raise them
without arguments; the class carries the status and the code:

    class CustomerNotFound(NotFound):
        resource = "customer"                     # 404 customer_not_found

    class InvoiceAlreadyFinalized(Conflict):
        code = "invoice_already_finalized"        # 409

    class PlanCodeTaken(FieldError):
        field, reason = "code", "value_already_exist"   # 422 {"code": ["value_already_exist"]}
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class InvoraError(Exception):
    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.code = code or self.code
        self.message = message or HTTPStatus(self.status_code).phrase
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"status": self.status_code, "error": HTTPStatus(self.status_code).phrase, "code": self.code}


class BadRequest(InvoraError):
    status_code = 400
    code = "bad_request"

    def body(self) -> dict[str, Any]:
        # Lago: {"status": 400, "error": "BadRequest: <message>"}
        return {"status": 400, "error": f"BadRequest: {self.message}", "code": self.code}


class Unauthorized(InvoraError):
    status_code = 401
    code = "unauthorized"


class Forbidden(InvoraError):
    status_code = 403
    code = "forbidden"


class NotFound(InvoraError):
    status_code = 404
    resource: str = "resource"  # the code is `<resource>_not_found`

    def __init__(self, resource: str | None = None) -> None:
        resource = resource or self.resource
        super().__init__(f"{resource} not found", code=f"{resource}_not_found")


class MethodNotAllowed(InvoraError):
    status_code = 405
    code = "method_not_allowed"


class Conflict(InvoraError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(InvoraError):
    status_code = 413
    code = "payload_too_large"


class ValidationFailed(InvoraError):
    """422 with field-level details: {"field": ["code", ...]}."""

    status_code = 422
    code = "validation_errors"

    def __init__(self, details: dict[str, list[str]] | None = None, **fields: str | list[str]) -> None:
        merged: dict[str, list[str]] = {k: list(v) for k, v in (details or {}).items()}
        for field, codes in fields.items():
            merged.setdefault(field, []).extend([codes] if isinstance(codes, str) else codes)
        self.details = merged
        super().__init__("Unprocessable Entity")

    def body(self) -> dict[str, Any]:
        return {**super().body(), "error_details": self.details}


class FieldError(ValidationFailed):
    """A 422 about one field, fixed by the class: `{field: [reason]}`."""

    field: str = "base"
    reason: str = "value_is_invalid"

    def __init__(self) -> None:
        super().__init__({self.field: [self.reason]})


class InvalidJson(BadRequest):
    code = "invalid_json"

    def __init__(self, reason: str | None = None) -> None:
        super().__init__("request body is not valid JSON" + (f": {reason}" if reason else ""))


class MissingParam(BadRequest):
    """Lago's 400 for an absent or empty root key (`{"alert": ...}` missing)."""

    code = "missing_param"

    def __init__(self, name: str) -> None:
        super().__init__(f"param is missing or the value is empty: {name}")


class TooManyRequests(InvoraError):
    status_code = 429
    code = "too_many_requests"


class ServiceUnavailable(InvoraError):
    status_code = 503
    code = "service_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__("the database is unavailable, retry later")
