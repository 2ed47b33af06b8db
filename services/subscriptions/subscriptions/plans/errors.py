"""Errors of the catalog client: what the catalog does not know, or a catalog that does not answer."""

from __future__ import annotations

from typing import Any

from invora.errors import NotFound, ServiceUnavailable
from invora.web.error_docs import ApiError, response


class CatalogUnavailable(ServiceUnavailable):
    code = "catalog_unavailable"


class PlanNotFound(NotFound):
    resource = "plan"


class PlanVersionNotFound(NotFound):
    resource = "plan_version"


class FeatureNotFound(NotFound):
    resource = "feature"


# the answer documented on routes that need the catalog (`invora.web.error_docs` holds the shared ones)
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: response(ApiError, "A service this call depends on (the catalog) did not answer; retry."),
}
