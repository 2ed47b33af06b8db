"""What a service's routes need to serve documents by their public link (`GET /api/v1/documents/{kind}/{token}`):
the token's path parameter, the documented answers, the PDF response, and the look-up behind a link."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Path
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from invora.documents import links
from invora.documents.repository import DocumentRepository
from invora.web.error_docs import ApiError, response

# base64url(24 bytes) "." base64url(32 bytes): 32 + 1 + 43 characters
Token = Annotated[str, Path(min_length=10, max_length=200, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
                            description="The signed token of a document link (`file_url`).")]
LINK_RESPONSES = {
    200: {"content": {"application/pdf": {}}, "description": "The document (PDF)."},
    403: response(ApiError, "The link has expired (`document_link_expired`): read the resource again for a "
                            "fresh `file_url`."),
    404: response(ApiError, "No document behind this link (`document_not_found`): altered, made with another "
                            "key, or of another kind."),
}


def pdf_response(content: bytes, file_name: str) -> Response:
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(file_name)}",
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


async def open_link(session: AsyncSession, repository: DocumentRepository, link_kind: str, resource_type: str,
                    token: str, now: datetime | None = None) -> tuple[bytes, str]:
    """The document a public link names (no API key: the link is the credential): its bytes and file name.
    Links live by the wall clock (`now` None: the current time), as they are made (`links.file_url`)."""
    signer = links.current()
    if signer is None:
        raise links.DocumentNotFound()
    resource_id = signer.verify(link_kind, token, now)
    found = await repository.get(session, resource_type, resource_id)
    if found is None:
        raise links.DocumentNotFound()
    return found.content, found.file_name
