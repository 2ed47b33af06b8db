"""`billing_entity.created|updated` (catalog, internal) → the local projection of entity codes
(the shared consumer: `invora.billing_entity_projection`)."""

from __future__ import annotations

from invora.billing_entity_projection import billing_entities_consumer
from subscriptions.billing_entities import repository

BILLING_ENTITY_CONSUMER = billing_entities_consumer(repository.upsert)
