"""SQL of documents: the shared `DocumentRepository` on this service's `documents` table."""

from __future__ import annotations

from invoicing.documents.models import Document
from invora.documents.repository import DocumentRepository

DOCUMENTS = DocumentRepository(Document)
insert_once = DOCUMENTS.insert_once
with_documents = DOCUMENTS.with_documents
exists = DOCUMENTS.exists
content = DOCUMENTS.get
