"""Errors of the catalog client: what the catalog does not know, or a catalog that does not answer."""

from __future__ import annotations

from invora.errors import NotFound, ServiceUnavailable


class CatalogUnavailable(ServiceUnavailable):
    code = "catalog_unavailable"


class PlanNotFound(NotFound):
    resource = "plan"


class PlanVersionNotFound(NotFound):
    resource = "plan_version"


class FeatureNotFound(NotFound):
    resource = "feature"
