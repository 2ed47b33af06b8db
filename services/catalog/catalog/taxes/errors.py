"""The taxes' named errors (each carries its HTTP status and Lago's code)."""

from __future__ import annotations

from invora.errors import FieldError, NotFound


class TaxNotFound(NotFound):
    resource = "tax"


class TaxCodeTaken(FieldError):
    field, reason = "code", "value_already_exist"
