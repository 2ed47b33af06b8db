"""Lago's key-value `metadata` object (credit notes, wallets): the rules of its four routes, pure.

Lago (`Metadata::UpdateItemService`, `Metadata::DeleteItemKeyService`, the metadata controllers):
`POST …/metadata` replaces, `PATCH …/metadata` merges (existing keys kept, the request's added or
overwritten), `DELETE …/metadata` removes it all, `DELETE …/metadata/{key}` removes one key — a key the
object does not hold changes nothing, an object that does not exist is 404 `metadata_not_found`. At most
50 keys (also after a merge), keys ≤ 100 characters, values ≤ 255 or null: the request's bounds are the
schema's (`invora.web.fields.Metadata`), the merged result's is checked here.

Invora stores no metadata as `None`: an emptied object reads `null` (Lago keeps an empty `{}` row).
"""

from __future__ import annotations

from collections.abc import Mapping

from invora.errors import FieldError, NotFound

MAX_KEYS = 50

Metadata = dict[str, str | None]


class TooManyMetadataKeys(FieldError):
    field, reason = "metadata", "too_many_keys"


class MetadataNotFound(NotFound):
    resource = "metadata"


def _stored(value: Mapping[str, str | None]) -> Metadata | None:
    if len(value) > MAX_KEYS:
        raise TooManyMetadataKeys()
    return dict(value) or None


def replaced(new: Mapping[str, str | None] | None) -> Metadata | None:
    """`POST …/metadata` (and `DELETE …/metadata` with `None`)."""
    return _stored(new or {})


def merged(current: Mapping[str, str | None] | None, new: Mapping[str, str | None] | None) -> Metadata | None:
    """`PATCH …/metadata` (and a `PUT` of the object carrying `metadata`): the request's keys over the current."""
    return _stored({**(current or {}), **(new or {})})


def without_key(current: Mapping[str, str | None] | None, key: str) -> Metadata | None:
    """`DELETE …/metadata/{key}`: 404 when there is no metadata at all; an absent key changes nothing."""
    if current is None:
        raise MetadataNotFound()
    return _stored({k: v for k, v in current.items() if k != key})
