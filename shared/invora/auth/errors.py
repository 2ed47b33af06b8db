"""The named errors of authentication (401) and authorization (403), with Lago-style codes."""

from __future__ import annotations

from invora.errors import Forbidden, Unauthorized


class MissingApiKey(Unauthorized):
    code = "missing_api_key"


class InvalidApiKey(Unauthorized):
    code = "invalid_api_key"


class ExpiredApiKey(Unauthorized):
    code = "expired_api_key"


class ForbiddenRole(Forbidden):
    code = "forbidden_role"


class ForbiddenCustomer(Forbidden):
    """A tenant key asked about another customer."""

    code = "forbidden_customer"

    def __init__(self) -> None:
        super().__init__("this key is limited to another customer")
