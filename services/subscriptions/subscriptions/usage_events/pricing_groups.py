"""Pricing groups (Lago's `pricing_group_keys`, alias `grouped_by`): the event values a charge prices by.

A charge (or one of its filters) with `pricing_group_keys: ["region", "model"]` is aggregated and
priced separately for each distinct combination of the events' values for those keys (tiers,
packages and free units apply per group); an event without a key is in the group where that key
is null. Ingestion cannot group at read time without reading events, so it stores each event's
values for the keys of every charge on its metric in the subscription's plan version (plus the
keys any charge override of the subscription names) in the rollup key `pricing_group`; a read
projects that onto the keys of the charge it prices. An override or plan change that adds a key
applies to the events received after it: earlier events are in the group where that key is null.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

# the rollup key is part of a btree primary key: bounded well below PostgreSQL's index row limit
MAX_PRICING_GROUP = 1000
VERSIONS_KEPT = 8192

Keys = tuple[str, ...]


def keys_of(properties: Mapping[str, Any] | None) -> Keys:
    """The pricing group keys of charge (or charge filter) properties, `grouped_by` being their alias."""
    if not properties:
        return ()
    keys = properties.get("pricing_group_keys") or properties.get("grouped_by") or ()
    if not isinstance(keys, list):
        return ()
    return tuple(dict.fromkeys(k for k in keys if isinstance(k, str) and k))


_by_version: OrderedDict[tuple[uuid.UUID, uuid.UUID], dict[str, Keys]] = OrderedDict()


def plan_pricing_keys(organization_id: uuid.UUID, version_id: uuid.UUID,
                      version: Mapping[str, Any]) -> dict[str, Keys]:
    """Metric code → the sorted union of the pricing group keys of the version's charges on it (and
    of their filters); only metrics some charge groups. Plan versions are immutable: kept per process."""
    cache_key = (organization_id, version_id)
    found = _by_version.get(cache_key)
    if found is not None:
        return found
    union: dict[str, set[str]] = {}
    for charge in version.get("charges") or []:
        keys = set(keys_of(charge.get("properties")))
        for charge_filter in charge.get("filters") or []:
            keys.update(keys_of(charge_filter.get("properties")))
        if keys:
            union.setdefault(charge["billable_metric_code"], set()).update(keys)
    found = {code: tuple(sorted(keys)) for code, keys in union.items()}
    _by_version[cache_key] = found
    if len(_by_version) > VERSIONS_KEPT:
        _by_version.popitem(last=False)
    return found


@lru_cache(maxsize=4096)
def merged(keys: Keys, more: Keys) -> Keys:
    return tuple(sorted(set(keys) | set(more)))


def text_value(value: Any) -> str | None:
    """An event property as a group value: as filters read it (`str`), null when missing or null."""
    return None if value is None else value if type(value) is str else str(value)


def pricing_group(keys: Keys, properties: Mapping[str, Any]) -> str:
    """The rollup key of an event's pricing group: canonical JSON of its non-null values for `keys`."""
    group = {key: text_value(properties[key]) for key in keys if properties.get(key) is not None}
    return json.dumps(group, sort_keys=True, separators=(",", ":")) if group else ""


def project(keys: Keys, values: Mapping[str, str | None]) -> tuple[str | None, ...]:
    """A group's values for `keys` (null where it has none)."""
    return tuple(values.get(key) for key in keys)


def grouped_by(keys: Keys, projected: Iterable[str | None]) -> dict[str, str | None]:
    return dict(zip(keys, projected, strict=True))
