"""Effective entitlements, as pure functions over plain data.

Precedence, lowest first: the plan's entitlements → the subscription's overrides (Lago's
subscription entitlements) → the organization admin's per-customer overrides (quotas and
feature flags, no expiry) → active grace periods (extra allowance on a metric, each expiring on
its own). A suspended customer is never allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_STRING_VALUE = 255
MAX_INTEGER_VALUE = 2**53


def check_value(privilege: dict[str, Any], value: Any) -> str | None:
    """Lago's error code for a privilege value of the wrong type, or None when it fits."""
    kind = privilege.get("value_type", "string")
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INTEGER_VALUE
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "select":
        if not isinstance(value, str):
            return "value_is_invalid"
        options = (privilege.get("config") or {}).get("select_options", [])
        return None if value in options else "value_not_in_select_options"
    else:
        ok = isinstance(value, str) and len(value) <= MAX_STRING_VALUE
    return None if ok else "value_is_invalid"


def subscription_entitlements(plan_entitlements: list[dict[str, Any]], overrides: dict[str, Any],
                              removed: list[str]) -> list[dict[str, Any]]:
    """Lago's `SubscriptionEntitlementObject`s: the plan's features (minus removed ones) and added ones.

    `overrides` maps a feature code to {"feature": definition (for features the plan lacks),
    "values": {privilege_code: value}}.
    """
    result = []
    seen = set()
    for entitlement in plan_entitlements:
        code = entitlement["code"]
        if code in removed:
            continue
        seen.add(code)
        result.append(_merge(entitlement, (overrides.get(code) or {}).get("values", {}), from_plan=True))
    for code, override in overrides.items():
        if code in seen or code in removed or not override.get("feature"):
            continue
        result.append(_merge(override["feature"], override.get("values", {}), from_plan=False))
    return result


def _merge(entitlement: dict[str, Any], values: dict[str, Any], *, from_plan: bool) -> dict[str, Any]:
    privileges = []
    for privilege in entitlement.get("privileges", []):
        plan_value = privilege.get("value") if from_plan else None
        override = values.get(privilege["code"])
        privileges.append({
            "code": privilege["code"], "name": privilege.get("name"),
            "value_type": privilege.get("value_type", "string"), "config": privilege.get("config") or {},
            "value": override if override is not None else plan_value, "plan_value": plan_value,
            "override_value": override,
        })
    return {"code": entitlement["code"], "name": entitlement.get("name"),
            "description": entitlement.get("description"), "privileges": privileges,
            "overrides": {k: v for k, v in values.items() if v is not None}}


@dataclass
class CheckInputs:
    feature_code: str
    billing_state: str
    subscription_entitlements: list[list[dict[str, Any]]]  # one list per active subscription
    quotas: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)
    grace: list[tuple[str, int, datetime]] = field(default_factory=list)  # (metric, extra, expires_at)
    privilege: str | None = None
    used: int | None = None


def check(inputs: CheckInputs) -> dict[str, Any]:
    """Whether the customer may use the feature now, with its value and the quota left."""
    code = inputs.feature_code
    privileges: dict[str, Any] = {}
    types: dict[str, str] = {}
    entitled = False
    for entitlements in inputs.subscription_entitlements:
        for entitlement in entitlements:
            if entitlement["code"] != code:
                continue
            entitled = True
            for privilege in entitlement["privileges"]:
                name, value = privilege["code"], privilege["value"]
                types.setdefault(name, privilege["value_type"])
                # several subscriptions granting one feature: the most generous value wins
                if name not in privileges or _more(value, privileges[name]):
                    privileges[name] = value
    flag = inputs.features.get(code)
    if flag is True:
        entitled = True
    quota_name = inputs.privilege or next((n for n, t in types.items() if t == "integer"), None)
    limit = privileges.get(quota_name) if quota_name else None
    for key in (code, f"{code}.{quota_name}" if quota_name else None):
        if key is not None and key in inputs.quotas:
            limit, entitled = inputs.quotas[key], True
            if quota_name is None:
                quota_name = "quota"
    grace = sum(extra for metric, extra, _ in inputs.grace if metric == code)
    grace_expiries = sorted(expires for metric, _, expires in inputs.grace if metric == code)
    if limit is not None and not isinstance(limit, bool) and isinstance(limit, int):
        limit = limit + grace
        if quota_name:
            privileges[quota_name] = limit
    elif grace and limit is None:
        limit, entitled = grace, True
    remaining = None
    if isinstance(limit, int) and not isinstance(limit, bool):
        remaining = max(limit - (inputs.used or 0), 0)
    reason = None
    if inputs.billing_state == "suspended":
        reason = "customer_suspended"
    elif flag is False:
        reason = "feature_disabled"
    elif not entitled:
        reason = "not_entitled"
    elif remaining is not None and inputs.used is not None and remaining <= 0:
        reason = "quota_exhausted"
    elif limit is None and privileges and all(isinstance(v, bool) for v in privileges.values()) and not any(
            privileges.values()) and flag is not True:
        reason = "feature_disabled"
    value: Any = limit if limit is not None else (
        next(iter(privileges.values())) if len(privileges) == 1 else (True if entitled else None))
    return {
        "feature_code": code, "allowed": reason is None, "reason": reason, "value": value,
        "quota_privilege": quota_name if isinstance(limit, int) else None,
        "limit": limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        "grace_allowance": grace, "grace_expires_at": grace_expiries[0] if grace_expiries else None,
        "used": inputs.used, "remaining": remaining, "privileges": privileges, "billing_state": inputs.billing_state,
    }


def _more(candidate: Any, current: Any) -> bool:
    if current is None:
        return candidate is not None
    if isinstance(candidate, bool) and isinstance(current, bool):
        return candidate and not current
    if isinstance(candidate, int) and isinstance(current, int):
        return candidate > current
    return False
