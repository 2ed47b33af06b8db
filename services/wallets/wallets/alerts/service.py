"""Wallet alerts (Lago's `/customers/{external_customer_id}/wallets/{code}/alerts`): define, read, change, delete.

An alert starts from the value its wallet shows when it is created (`previous_value`), so it reports
crossings from then on; a change of thresholds keeps that value. Evaluation: `evaluate.py`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import ValidationFailed
from invora.ids import uuid7
from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta, paginate
from wallets.alerts import repository
from wallets.alerts.models import WalletAlert
from wallets.alerts.schemas import AlertInput, AlertUpdateInput, ThresholdInput
from wallets.errors import AlertCodeTaken, AlertNotFound
from wallets.ledger.arithmetic import cents_to_credits


def watched_value(alert_type: str, wallet: RowMapping | dict) -> Decimal:
    """What an alert of `alert_type` watches on `wallet`: cents for the `*_amount` types, credits otherwise;
    the ongoing figures are the balance minus the current unbilled usage."""
    usage = wallet["ongoing_usage_balance_cents"]
    if alert_type == "wallet_balance_amount":
        return Decimal(wallet["balance_cents"])
    if alert_type == "wallet_ongoing_balance_amount":
        return Decimal(wallet["balance_cents"] - usage)
    if alert_type == "wallet_credits_balance":
        return wallet["credits_balance"]
    return wallet["credits_balance"] - cents_to_credits(usage, wallet["rate_amount"], wallet["currency"])


def _threshold_errors(thresholds: list[ThresholdInput], prefix: str = "") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for index, threshold in enumerate(thresholds):
        if threshold.recurring and threshold.value == 0:  # it would repeat every 0
            errors[f"{prefix}thresholds.{index}.value"] = ["value_is_out_of_range"]
    if sum(1 for t in thresholds if t.recurring) > 1:
        errors[f"{prefix}thresholds"] = ["only_one_recurring_threshold"]
    return errors


def _stored(thresholds: list[ThresholdInput]) -> list[dict[str, Any]]:
    return [{"code": t.code, "value": format(t.value.normalize(), "f"), "recurring": t.recurring}
            for t in thresholds]


async def create_many(session: AsyncSession, wallet: RowMapping, items: list[AlertInput], *,
                      batch: bool) -> list[WalletAlert]:
    """All or none (Lago's batch): an invalid alert is a 422 keyed `alerts.<index>.<field>`, nothing is created."""
    taken = await repository.taken_codes(session, wallet["id"], {item.code for item in items})
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        prefix = f"alerts.{index}." if batch else ""
        errors.update(_threshold_errors(item.thresholds, prefix))
        if item.code in taken:  # stored, or an earlier alert of the same batch
            errors[f"{prefix}code"] = ["value_already_exist"]
        taken.add(item.code)
    if errors:
        raise ValidationFailed(errors)
    alerts = [WalletAlert(
        id=uuid7(), organization_id=wallet["organization_id"], wallet_id=wallet["id"], code=item.code,
        name=item.name, alert_type=item.alert_type, thresholds=_stored(item.thresholds),
        previous_value=watched_value(item.alert_type, wallet),
    ) for item in items]
    session.add_all(alerts)
    await session.flush()
    for alert in alerts:
        await session.refresh(alert)
    return alerts


async def page(session: AsyncSession, wallet: RowMapping, params: PageParams) -> tuple[list[WalletAlert],
                                                                                        PaginationMeta]:
    return await paginate(session, repository.of_wallet(wallet["id"]), params)


async def get(session: AsyncSession, wallet: RowMapping, code: str, *, lock: bool = False) -> WalletAlert:
    alert = await repository.find(session, wallet["id"], code, lock=lock) if storable_key(code) else None
    if alert is None:
        raise AlertNotFound()
    return alert


async def update(session: AsyncSession, wallet: RowMapping, code: str, data: AlertUpdateInput) -> WalletAlert:
    alert = await get(session, wallet, code, lock=True)
    if data.thresholds and (errors := _threshold_errors(data.thresholds)):
        raise ValidationFailed(errors)
    if data.code is not None and data.code != alert.code:
        if await repository.taken_codes(session, wallet["id"], {data.code}):
            raise AlertCodeTaken()
        alert.code = data.code
    if data.given("name"):
        alert.name = data.name
    if data.thresholds:
        alert.thresholds = _stored(data.thresholds)
    await session.flush()
    await session.refresh(alert)
    return alert


async def delete(session: AsyncSession, wallet: RowMapping, code: str) -> WalletAlert:
    alert = await get(session, wallet, code, lock=True)
    await session.delete(alert)
    await session.flush()
    return alert


async def delete_all(session: AsyncSession, wallet: RowMapping) -> None:
    await repository.delete_all(session, wallet["id"])


def render(alert: WalletAlert | RowMapping, wallet_code: str) -> dict[str, Any]:
    get_ = alert.__getitem__ if isinstance(alert, RowMapping) else alert.__getattribute__
    processed: datetime | None = get_("last_processed_at")
    previous: Decimal = get_("previous_value")
    return {
        "lago_id": str(get_("id")), "lago_organization_id": str(get_("organization_id")),
        "external_subscription_id": None, "lago_wallet_id": str(get_("wallet_id")), "wallet_code": wallet_code,
        "billable_metric": None, "alert_type": get_("alert_type"), "code": get_("code"), "name": get_("name"),
        "direction": "decreasing", "previous_value": value_text(previous),
        "last_processed_at": processed.isoformat() if processed else None,
        "thresholds": get_("thresholds"), "created_at": get_("created_at").isoformat(),
    }


def value_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


