"""The billing entities' named errors."""

from __future__ import annotations

from invora.errors import NotFound


class BillingEntityNotFound(NotFound):
    """Lago: a customer's `billing_entity_code` names no entity of the organization (404)."""

    resource = "billing_entity"
