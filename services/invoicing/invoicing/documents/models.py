"""Rendered documents (PDF) of invoices and credit notes, kept once per resource (`invora.documents.repository`).

The primary key is the resource's id (an invoice's or credit note's `lago_id`, UUIDv7: unique across both), so
a resource has one document whoever renders it first (the background consumer or a download racing it): the
insert is `ON CONFLICT DO NOTHING` and only the winner publishes `*.generated`.
"""

from __future__ import annotations

from invoicing.db import Base
from invora.documents.repository import declare_document_model

RESOURCE_TYPES = ("invoice", "credit_note")

Document = declare_document_model(Base, RESOURCE_TYPES)
