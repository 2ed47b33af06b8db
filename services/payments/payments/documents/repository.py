"""SQL of documents: the shared `DocumentRepository` on this service's `documents` table."""

from __future__ import annotations

from invora.documents.repository import DocumentRepository
from payments.documents.models import Document

DOCUMENTS = DocumentRepository(Document)
