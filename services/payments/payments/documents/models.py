"""Rendered payment receipts (PDF), one per receipt (`invora.documents.repository`: the receipt's id is the key)."""

from __future__ import annotations

from invora.documents.repository import declare_document_model
from payments.db import Base

Document = declare_document_model(Base, ("payment_receipt",))
