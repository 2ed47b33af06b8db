"""Who is calling: the verified claims of an API key."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import Select


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: uuid.UUID
    roles: frozenset[str]
    subject: str
    # tenant keys: the internal id (`lago_id`) of the one customer they are limited to. Not the external
    # id, which a deleted customer hands on to the next customer created with it
    customer_id: uuid.UUID | None = None

    @property
    def fingerprint(self) -> str:
        """Who exactly is calling within the organization: the key's subject, its roles and its customer.

        Idempotency keys are scoped to it (as Stripe scopes them to the account): a stored response
        is replayed only to the principal that made the request, never to another key of the
        organization with other roles or another customer.
        """
        identity = [self.subject, sorted(self.roles), str(self.customer_id) if self.customer_id else None]
        return hashlib.sha256(json.dumps(identity, separators=(",", ":")).encode()).hexdigest()

    def has_any(self, roles: frozenset[str] | set[str]) -> bool:
        return bool(self.roles & roles)

    def scope(self, statement: Select, model: type) -> Select:
        """Limit a query to the caller's organization: every read goes through this."""
        return statement.where(model.organization_id == self.organization_id)
