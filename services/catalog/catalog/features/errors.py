"""The features' named errors."""

from __future__ import annotations

from invora.errors import NotFound


class FeatureNotFound(NotFound):
    resource = "feature"


class PrivilegeNotFound(NotFound):
    resource = "privilege"
