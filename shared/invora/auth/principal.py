"""Who is calling: the verified claims of an API key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: uuid.UUID
    roles: frozenset[str]
    subject: str
    customer: str | None = None  # tenant keys: the external customer id they are limited to

    def has_any(self, roles: frozenset[str] | set[str]) -> bool:
        return bool(self.roles & roles)

    def scope(self, statement: Select, model: type) -> Select:
        """Limit a query to the caller's organization: every read goes through this."""
        return statement.where(model.organization_id == self.organization_id)
